"""Training: datasets, synthetic degradations, features, fitting and the train commands that write iqa_core/weights/. The runtime never imports it."""
