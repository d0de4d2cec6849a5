"""Encoders by backend: lite (the offline default), hf (CLIP/SigLIP, zero-shot), mllm (image-text-to-text), text (MiniLM); iqa_core.registry names them."""
