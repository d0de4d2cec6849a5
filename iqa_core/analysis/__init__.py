"""Stage 3, analysis: pixel measures computed once per image (measure), the eight attributes, and the region map (regions/)."""
