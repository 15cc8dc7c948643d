"""Reusable, serializable Keras layers: tied (W^T) dense, input noise, activity penalties."""
