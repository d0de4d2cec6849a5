"""Stage 1, inputs: safe decoding of image files and bytes (load), the text they carry (readers) and the metadata merged with what the user typed (metadata)."""
