"""Transcription and translation of speech (Whisper) with openvino_genai.WhisperPipeline."""
