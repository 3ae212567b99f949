"""FER2013 → LapSRN ×2 → augmented Keras CNN → TensorFlow.js training pipeline."""
