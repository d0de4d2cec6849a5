"""Stage 2, model: encoders (the offline EfficientNet-Lite + MiniLM default, optional CLIP/SigLIP and MLLM backends), pooled feature blocks and the learned heads."""
