"""The emotion detector's pipeline in Python, without TensorFlow: the same BlazeFace face detector and the same
classifier weights as the page, run with LiteRT.

    from emotion_detector import EmotionDetector

    detector = EmotionDetector.load()  # the shipped model; or EmotionDetector.load("my_model")
    for face in detector.detect("photo.jpg"):
        print(face.id, face.box, face.label, face.probabilities)
    for frame in detector.analyse_video("clip.mp4", every_n_frames=2):
        print(frame.time, [(face.id, face.label) for face in frame.faces])

Command line: ``python -m emotion_detector --help``.
"""

from emotion_detector.detector import EmotionDetector, Face, FrameResult
from emotion_detector.geometry import Box
from emotion_detector.media import MediaError
from emotion_detector.model_files import ModelFilesError
from emotion_detector.photo import PictureSizeError

__version__ = "0.1.0"  # the package's one version: pyproject.toml reads it from here

__all__ = ["Box", "EmotionDetector", "Face", "FrameResult", "MediaError", "ModelFilesError", "PictureSizeError"]
