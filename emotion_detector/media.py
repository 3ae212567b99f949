"""Reading pictures and videos into RGB arrays, with errors that name the file and say what is wrong with it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv",
                            ".y4m", ".3gp", ".ts", ".ogv"})


class MediaError(Exception):
    """A file that cannot be analysed; str() gives the path and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def kind_of(path: Path) -> str | None:
    """'image', 'video' or None (unknown suffix), from the file name alone."""
    suffix = path.suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


def read_image(path: Path | str) -> np.ndarray:
    """(H, W, 3) uint8 RGB, turned upright as its EXIF orientation says (as the page's createImageBitmap does);
    an animated image gives its first frame."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            ImageOps.exif_transpose(image, in_place=True)  # in place: a copy cost nearly as much as decoding
            image.load()
            if image.width < 1 or image.height < 1:
                raise MediaError(path, "image has no pixels")
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey: keep the top 8 bits
                image = Image.fromarray((np.asarray(image, np.uint32) >> 8).astype(np.uint8))
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                # Transparent areas on white, as the page draws them (not black, as dropping alpha would).
                rgba = image.convert("RGBA")
                image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
            return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    except MediaError:
        raise
    except UnidentifiedImageError:
        raise MediaError(path, "not an image (no decoder recognises its contents)") from None
    except Image.DecompressionBombError as error:
        raise MediaError(path, f"image too large to decode safely ({error})") from None
    except FileNotFoundError:
        raise MediaError(path, "file not found") from None
    except PermissionError:
        raise MediaError(path, "permission denied") from None
    except (OSError, SyntaxError, ValueError) as error:  # PIL reports broken data as OSError/SyntaxError
        raise MediaError(path, f"corrupt or truncated image ({error})") from None


@dataclass(frozen=True)
class VideoFrame:
    index: int  # 0-based, counting every decoded frame
    time: float  # seconds from the start of the stream
    rgb: np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float | None
    frames: int | None  # as the container declares it (may be absent or approximate)
    codec: str


def _ffmpeg_reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error)


def open_video(path: Path | str):
    """The container and its first video stream; MediaError if either is unusable."""
    import av

    try:
        container = av.open(str(path))
    except FileNotFoundError:
        raise MediaError(path, "file not found") from None
    except PermissionError:
        raise MediaError(path, "permission denied") from None
    except av.error.FFmpegError as error:
        raise MediaError(path, f"not a readable video ({_ffmpeg_reason(error)})") from None
    if not container.streams.video:
        container.close()
        raise MediaError(path, "no video stream in the file")
    stream = container.streams.video[0]
    if stream.codec_context is None or stream.codec_context.name is None:
        container.close()
        raise MediaError(path, "unsupported video codec: this FFmpeg build has no decoder for its video stream")
    return container, stream


def video_info(path: Path | str) -> VideoInfo:
    container, stream = open_video(path)
    with container:
        rate = stream.average_rate or stream.guessed_rate
        return VideoInfo(stream.codec_context.width, stream.codec_context.height, float(rate) if rate else None,
                         stream.frames or None, stream.codec_context.name)


def read_video(path: Path | str, every_n_frames: int = 1) -> Iterator[VideoFrame]:
    """Every n-th decoded frame as RGB, with its time; MediaError (naming the frame) if decoding fails."""
    import av

    if every_n_frames < 1:
        raise ValueError(f"every_n_frames must be 1 or more, not {every_n_frames}")
    container, stream = open_video(path)
    rate = stream.average_rate or stream.guessed_rate
    index = -1
    with container:
        try:
            for frame in container.decode(stream):
                index += 1
                if index % every_n_frames:
                    continue
                time = frame.time if frame.time is not None else index / float(rate) if rate else 0.0
                yield VideoFrame(index, float(time), frame.to_ndarray(format="rgb24"))
        except av.error.FFmpegError as error:
            if index < 0:
                raise MediaError(path, f"not a readable video: no frame decodes ({_ffmpeg_reason(error)})") from None
            raise MediaError(path, f"video decoding failed after frame {index} ({_ffmpeg_reason(error)})") from None
    if index < 0:
        raise MediaError(path, f"no decodable frame (codec {stream.codec_context.name!r})")
