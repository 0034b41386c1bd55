"""Web (Gradio) and Slack front ends; they import assistant, never the other way round."""
