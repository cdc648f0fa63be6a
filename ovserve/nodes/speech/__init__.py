"""Text to speech (SpeechT5 and the other models openvino_genai.Text2SpeechPipeline runs)."""
