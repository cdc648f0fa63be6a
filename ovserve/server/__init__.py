"""Starting and stopping a server: the supervisor process and the gunicorn application."""
