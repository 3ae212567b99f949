"""The emotion classes, in FER2013's label order. Every other module reads them from here."""

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# Folder names seen in public face-emotion datasets, mapped to our class names.
FOLDER_ALIASES: dict[str, str] = {
    "angry": "angry", "anger": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "neutral": "neutral", "neutrality": "neutral", "calm": "neutral",
}

# Classes that datasets carry but we do not predict: skipped with a warning, never an error.
KNOWN_UNPREDICTED: frozenset[str] = frozenset({"contempt", "unknown", "nf", "notface"})

FER_SIZE = 48  # FER2013 faces are 48×48 grey
