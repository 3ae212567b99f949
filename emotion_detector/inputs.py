"""What a run reads and writes: the files named on the command line and found in folders (with every entry that
cannot be followed reported, not dropped), the check that no output overwrites or lands among the inputs, and
distinct names for the annotated copies."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from emotion_detector.atomic import incomplete_path
from emotion_detector.media import MediaError, kind_of

ANNOTATED_SUFFIXES = {"image": (".png",), "video": (".mp4",), None: (".png", ".mp4")}  # None: decided on reading


@dataclass(frozen=True)
class Job:
    path: Path
    root: Path  # what was named on the command line: annotated copies keep the path relative to it
    kind: str | None  # image, video, or None: unknown suffix, try both


@dataclass
class Inputs:
    jobs: list[Job] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)  # every folder searched, as reached (through links or not)
    skipped: int = 0  # other files in folders
    unreadable: list[MediaError] = field(default_factory=list)  # folder entries that cannot be followed or listed
    notes: list[str] = field(default_factory=list)  # folders reached twice, searched once; files named twice
    listed: set[Job] = field(default_factory=set)

    def add(self, job: Job) -> None:
        """Lists ``job`` once: a file given twice (named, or found in a folder named) is analysed once."""
        if job in self.listed:
            self.notes.append(f"{job.path}: given twice, analysed once")
            return
        self.listed.add(job)
        self.jobs.append(job)


def collect(paths: list[str]) -> Inputs:
    """Files named on the command line as they are; folders searched recursively, in name order, following links
    to files and folders. A link that leads back to a folder it is in (a loop), a link to itself, a broken link
    and a folder that cannot be listed are reported in ``unreadable``; a folder reached a second time through
    another link is searched once."""
    inputs = Inputs()
    seen: dict[tuple[int, int], Path] = {}  # folders searched, by identity
    for name in paths:
        path = Path(name)
        if path.is_dir():
            identity = _identity(os.stat(path))
            if identity in seen:
                inputs.notes.append(f"{path}: the folder {seen[identity]} again, searched once")
                continue
            seen[identity] = path
            inputs.folders.append(path)
            _search(path, path, {identity: path}, seen, inputs)
        else:
            inputs.add(Job(path, path.parent, kind_of(path)))  # a missing file fails when it is read
    return inputs


def _identity(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino


def _search(folder: Path, root: Path, ancestors: dict[tuple[int, int], Path], seen: dict[tuple[int, int], Path],
            inputs: Inputs) -> None:
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as error:
        inputs.unreadable.append(MediaError(folder, f"folder cannot be listed ({os.strerror(error.errno or 0)})"))
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            status = entry.stat()  # follows links
        except OSError as error:
            inputs.unreadable.append(MediaError(path, _unfollowable(path, error)))
            continue
        if stat.S_ISDIR(status.st_mode):
            identity = _identity(status)
            if identity in ancestors:
                inputs.unreadable.append(MediaError(path, f"symbolic link loop: leads back to {ancestors[identity]}, "
                                                          f"which contains it; not followed"))
            elif identity in seen:
                inputs.notes.append(f"{path}: the folder {seen[identity]} again, searched once")
            else:
                seen[identity] = path
                inputs.folders.append(path)
                _search(path, root, {**ancestors, identity: path}, seen, inputs)
        elif stat.S_ISREG(status.st_mode) and kind_of(path):
            inputs.add(Job(path, root, kind_of(path)))
        else:  # other files, and pipes, sockets and devices, which are never read
            inputs.skipped += 1


def _unfollowable(path: Path, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "symbolic link loop: the link leads back to itself"
    if error.errno == errno.ENOENT and path.is_symlink():
        return f"broken symbolic link: its target {os.readlink(path)} does not exist"
    return f"cannot be read ({os.strerror(error.errno or 0)})"


class OutputError(ValueError):
    """An output that would overwrite an input, or land among the inputs."""


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def check_outputs(inputs: Inputs, output: Path | None, annotate: Path | None) -> None:
    """Raises OutputError, naming both paths, when ``output`` (or its ``.incomplete`` file) is an input file or
    lies inside an input folder, or when ``annotate`` is an input or inside an input folder, or holds an input.
    Links are resolved, and an existing output is compared with each input as a file (hard links too)."""
    files = {_real(job.path): job.path for job in inputs.jobs}
    folders = {_real(folder): folder for folder in inputs.folders}
    identities = {}
    for job in inputs.jobs:
        try:
            identities[_identity(os.stat(job.path))] = job.path
        except OSError:
            pass  # it fails when it is read
    if output is not None:
        if output.is_dir():
            raise OutputError(f"--output {output} is a folder: name a file")
        for candidate in (output, incomplete_path(output)):
            real = _real(candidate)
            if real in files:
                raise OutputError(f"--output {output} would overwrite the input {files[real]}")
            try:
                same = identities.get(_identity(os.stat(candidate)))
            except OSError:
                same = None
            if same is not None:
                raise OutputError(f"--output {output} is the same file as the input {same}")
            for folder, shown in folders.items():
                if real.is_relative_to(folder):
                    raise OutputError(f"--output {output} lies inside the input folder {shown}: write it elsewhere")
    if annotate is not None:
        real = _real(annotate)
        for folder, shown in folders.items():
            if real.is_relative_to(folder):
                raise OutputError(f"--annotate {annotate} lies inside the input folder {shown}: annotate into "
                                  f"another folder")
        for file, shown in files.items():
            if file.is_relative_to(real):
                relation = "is" if file == real else "holds"
                raise OutputError(f"--annotate {annotate} {relation} the input {shown}: annotate into another folder")
        for folder, shown in folders.items():
            if folder.is_relative_to(real):
                raise OutputError(f"--annotate {annotate} holds the input folder {shown}: annotate into another "
                                  f"folder")


def annotated_names(jobs: list[Job], annotate: Path, output: Path | None) -> tuple[dict[Job, Path], list[str]]:
    """Each job's annotated copy, without its suffix (.png or .mp4 is added once the file's kind is known), relative
    to ``annotate``, and a note for each renamed one.

    A copy keeps the input's path relative to what was named on the command line, with the suffix replaced. Names
    are compared ignoring case (as on macOS and Windows). Where two inputs would get the same name (x.jpg and x.png
    in one folder, or a/x.jpg and b/x.jpg named together), the first in processing order keeps it and each later
    one gets the first free name of x-2, x-3…, that is no other input's own name; --output is never taken."""
    def key(base: Path, suffix: str) -> str:
        return (base.as_posix() + suffix).casefold()

    own = {job: job.path.relative_to(job.root).with_suffix("") for job in jobs}
    natural = {key(base, suffix) for job, base in own.items() for suffix in ANNOTATED_SUFFIXES[job.kind]}
    taken: dict[str, str] = {}
    if output is not None:
        real_output, real_annotate = _real(output), _real(annotate)
        for candidate in (real_output, incomplete_path(real_output)):
            if candidate.is_relative_to(real_annotate):
                taken[key(candidate.relative_to(real_annotate), "")] = f"--output {output}"
    names: dict[Job, Path] = {}
    notes = []
    for job in jobs:
        suffixes = ANNOTATED_SUFFIXES[job.kind]
        base = own[job]
        number = 1
        while any(key(base, suffix) in taken for suffix in suffixes) or (
                number > 1 and any(key(base, suffix) in natural for suffix in suffixes)):
            number += 1
            base = own[job].with_name(f"{own[job].name}-{number}")
        if number > 1:
            holder = next(taken[key(own[job], suffix)] for suffix in suffixes if key(own[job], suffix) in taken)
            shown = suffixes[0] if len(suffixes) == 1 else "(.png or .mp4)"
            notes.append(f"annotated copy of {job.path}: {annotate / base}{shown}, as {annotate / own[job]}{shown} "
                         f"is {holder}")
        for suffix in suffixes:
            taken[key(base, suffix)] = f"the copy of {job.path}"
        names[job] = base
    return names, notes
