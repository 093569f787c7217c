"""What a run leaves behind: its TensorBoard log, and the saved run (JSON + CSV) read back."""
