"""The `fer` package's default pipeline (`FER()`: OpenCV Haar cascade + its TFLite mini-Xception) on the photos and
the video that bench/python_speed.py made, timed the same way. Runs in .venv-bench (bench/requirements.txt);
python_speed.py calls it and reads the JSON it writes (TensorFlow's chatter goes to stdout/stderr).

Photos: cv2.imread + FER.detect_emotions per file. Video: cv2.VideoCapture decoding every frame + detect_emotions
per frame, which is what fer's own Video.analyze does per frame, without its frame saving and pandas output.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, nargs="+", required=True)
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2, help="passes over the photos (after one warm-up photo)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    import fer
    from fer.fer import FER

    detector = FER()  # its defaults: mtcnn=False (Haar cascade), use_tflite=True
    detector.detect_emotions(cv2.imread(str(args.photos[0])))  # warm-up

    faces, started = 0, time.perf_counter()
    for _ in range(args.rounds):
        for path in args.photos:
            faces += len(detector.detect_emotions(cv2.imread(str(path))))
    photo_seconds = time.perf_counter() - started
    images = args.rounds * len(args.photos)

    capture = cv2.VideoCapture(str(args.video))
    frames = video_faces = 0
    started = time.perf_counter()
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        video_faces += len(detector.detect_emotions(frame))
        frames += 1
    video_seconds = time.perf_counter() - started
    capture.release()
    args.out.write_text(json.dumps({
        "name": f"fer {fer.__version__} (Haar cascade + TFLite mini-Xception, its defaults)",
        "images": images, "photo_seconds": photo_seconds, "photo_faces": faces / args.rounds,
        "frames": frames, "video_seconds": video_seconds, "video_faces": video_faces,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
