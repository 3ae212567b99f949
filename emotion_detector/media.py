"""Reading pictures and videos into RGB arrays, with errors that name the file and say what is wrong with it."""

from __future__ import annotations

import errno
import warnings
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
    except (OSError, SyntaxError, ValueError) as error:  # PIL reports broken data as OSError/SyntaxError
        reason = _os_reason(error) if isinstance(error, OSError) else None  # else the file itself cannot be opened
        raise MediaError(path, reason or f"corrupt or truncated image ({error})") from None


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
    duration: float | None = None  # seconds, as the container declares it

    @property
    def expected_frames(self) -> int | None:
        """The container's frame count, else its duration × frame rate; None when it gives neither."""
        if self.frames:
            return self.frames
        return round(self.duration * self.fps) if self.duration and self.fps else None


def _ffmpeg_reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error)


def _os_reason(error: OSError) -> str | None:
    return {errno.ENOENT: "file not found", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.ELOOP: "symbolic link loop", errno.EISDIR: "a folder, not a file"}.get(error.errno)


def open_video(path: Path | str):
    """The container and its first video stream; MediaError if either is unusable."""
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as error:  # PyAV's FileNotFoundError… are both
        reason = _os_reason(error) if isinstance(error, OSError) else None
        if reason is None and not isinstance(error, av.error.FFmpegError):
            raise
        raise MediaError(path, reason or f"not a readable video ({_ffmpeg_reason(error)})") from None
    if not container.streams.video:
        container.close()
        raise MediaError(path, "no video stream in the file")
    stream = container.streams.video[0]
    if stream.codec_context is None or stream.codec_context.name is None:
        container.close()
        raise MediaError(path, "unsupported video codec: this FFmpeg build has no decoder for its video stream")
    return container, stream


def video_info(path: Path | str) -> VideoInfo:
    """The video's size, rate, frame count (when the container records it), codec and duration."""
    container, stream = open_video(path)
    with container:
        return _describe(container, stream)


def _describe(container, stream) -> VideoInfo:
    import av

    rate = stream.average_rate or stream.guessed_rate
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    else:
        duration = container.duration / av.time_base if container.duration else None
    return VideoInfo(stream.codec_context.width, stream.codec_context.height, float(rate) if rate else None,
                     stream.frames or None, stream.codec_context.name, duration)


class VideoReader:
    """A video's frames, with what its container declares (``info``) and, as they are read, how many frames have
    been decoded (``decoded``) and how many packets could not be (``damaged``): ``shortfall()`` then tells a file
    that ends early or is damaged from a whole one."""

    def __init__(self, path: Path | str, every_n_frames: int = 1) -> None:
        if every_n_frames < 1:
            raise ValueError(f"every_n_frames must be 1 or more, not {every_n_frames}")
        self.path, self.every_n_frames = path, every_n_frames
        self.container, self.stream = open_video(path)
        self.info = _describe(self.container, self.stream)
        self.decoded = 0
        self.damaged = 0  # packets the decoder refused: skipped, as players do, and counted
        self.read_error: str | None = None  # why reading stopped before the end of the file, if it did

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.container.close()

    def frames(self) -> Iterator[VideoFrame]:
        """Every n-th decoded frame as RGB, with its time. A packet that does not decode is skipped (and counted);
        reading stops where the file cannot be read further. MediaError if no frame at all decodes."""
        import av

        rate = self.stream.average_rate or self.stream.guessed_rate
        first_error = None
        for packet in self._packets():
            try:
                decoded = packet.decode() if packet is not None else self.stream.codec_context.decode(None)
            except av.error.FFmpegError as error:
                self.damaged += 1
                first_error = first_error or _ffmpeg_reason(error)
                continue
            for frame in decoded:
                index = self.decoded
                self.decoded += 1
                if index % self.every_n_frames:
                    continue
                time = frame.time if frame.time is not None else index / float(rate) if rate else 0.0
                yield VideoFrame(index, float(time), frame.to_ndarray(format="rgb24"))
        if not self.decoded:
            reason = first_error or self.read_error
            raise MediaError(self.path, f"not a readable video: no frame decodes ({reason})" if reason
                             else f"no decodable frame (codec {self.stream.codec_context.name!r})")

    def _packets(self) -> Iterator:
        """The stream's packets, then an empty one (None where reading failed) that flushes the decoder."""
        import av

        try:
            yield from self.container.demux(self.stream)  # ends with its own empty packet
        except av.error.FFmpegError as error:
            self.read_error = _ffmpeg_reason(error)
            yield None

    def shortfall(self) -> str | None:
        """Once every frame is read: None for a whole video, else what is missing: frames decoded against those the
        container declares, and damaged packets. A declared frame count may be missed by one frame (an MP4's edit
        list can drop its first), a count estimated from the duration by 2 frames or 2%, whichever is more
        (durations are rounded, and some encoders pad them); a truncated file's last packet, cut short, shows as
        damage anyway. A container that declares neither (MPEG-TS, raw streams) is only checked for damage."""
        expected = self.info.expected_frames
        exact = bool(self.info.frames)
        short = bool(expected) and self.decoded < expected - (1 if exact else max(2, expected // 50))
        if not short and not self.damaged and not self.read_error:
            return None
        found = (f"only {self.decoded} of {expected} frames decoded (expected from "
                 + ("its container's frame count)" if exact else
                    f"its duration, {self.info.duration:.2f} s at {self.info.fps:.3g} fps)")
                 if short else f"{self.decoded} frames decoded")
        damage = [f"{self.damaged} damaged packet{'s' if self.damaged != 1 else ''} skipped"] if self.damaged else []
        if self.read_error:
            damage.append(f"reading stopped early ({self.read_error})")
        return "; ".join([found, *damage]) + ": the file is truncated or damaged"


class PartialVideoWarning(UserWarning):
    """A video that ends before the frames its container declares, or has packets that do not decode."""


def read_video(path: Path | str, every_n_frames: int = 1) -> Iterator[VideoFrame]:
    """Every n-th decoded frame as RGB, with its time; a PartialVideoWarning at the end if the file is truncated or
    damaged (VideoReader.shortfall); MediaError if no frame decodes."""
    with VideoReader(path, every_n_frames) as reader:
        yield from reader.frames()
        shortfall = reader.shortfall()
    if shortfall:
        warnings.warn(f"{path}: {shortfall}", PartialVideoWarning, stacklevel=2)
