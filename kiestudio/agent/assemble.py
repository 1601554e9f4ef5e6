"""Joining a plan's clips and a music or voice track into one MP4, with PyAV (FFmpeg's libraries; no container code
of our own).

Every clip is decoded and re-encoded at the first clip's size (letterboxed by scaling, which keeps it simple and
robust to clips of different sizes and rates) as H.264 at a steady frame rate; the track, if any, is resampled to
AAC stereo and cut to the video's length. Plain Python: files in, file out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO

import av

FPS = 24
AUDIO_RATE = 44_100


class AssemblyError(Exception):
    """The parts could not be joined; the message says which and why."""


@dataclass(frozen=True)
class Assembled:
    width: int
    height: int
    seconds: float
    frames: int


def _even(value: int) -> int:
    return max(2, value - value % 2)


def _size(clip: str | Path | IO[bytes]) -> tuple[int, int]:
    with av.open(clip) as container:
        if not container.streams.video:
            raise AssemblyError("A clip has no video.")
        stream = container.streams.video[0]
        return _even(stream.codec_context.width), _even(stream.codec_context.height)


def assemble(clips: Sequence[str | Path], out: str | Path | IO[bytes], *, track: str | Path | None = None) -> Assembled:
    """Write ``clips`` one after another, with ``track`` under them, to ``out`` (MP4)."""
    if not clips:
        raise AssemblyError("There are no clips to join.")
    width, height = _size(clips[0])
    frames = 0
    with av.open(out, mode="w", format="mp4") as output:
        video = output.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = Fraction(1, FPS)
        video.options = {"preset": "veryfast", "crf": "23", "threads": "1"}
        audio = output.add_stream("aac", rate=AUDIO_RATE) if track else None
        if audio is not None:
            audio.layout = "stereo"
        for number, clip in enumerate(clips, start=1):
            try:
                frames = _copy_clip(clip, output, video, frames, width, height)
            except (av.error.FFmpegError, AssemblyError) as exc:
                raise AssemblyError(f"Clip {number} could not be read: {exc}") from exc
        for packet in video.encode():
            output.mux(packet)
        seconds = frames / FPS
        if audio is not None and track is not None:
            try:
                _copy_track(track, output, audio, seconds)
            except av.error.FFmpegError as exc:
                raise AssemblyError(f"The music or voice track could not be read: {exc}") from exc
    return Assembled(width, height, seconds, frames)


def _copy_clip(clip, output, video, frames: int, width: int, height: int) -> int:
    """Re-time one clip's frames onto the output's steady clock (dropping or repeating to keep its length)."""
    with av.open(clip) as container:
        if not container.streams.video:
            raise AssemblyError("it has no video")
        stream = container.streams.video[0]
        start = frames
        length = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
        picture = None
        for frame in container.decode(stream):
            at = float(frame.time) if frame.time is not None else (frames - start) / FPS
            due = start + round(at * FPS)
            picture = frame.reformat(width=width, height=height, format="yuv420p")
            picture.time_base = Fraction(1, FPS)
            while frames <= due:
                picture.pts = frames
                for packet in video.encode(picture):
                    output.mux(packet)
                frames += 1
        while picture is not None and frames < start + round(length * FPS):  # the last frame lasts to the clip's end
            picture.pts = frames
            for packet in video.encode(picture):
                output.mux(packet)
            frames += 1
    return frames


def _copy_track(track, output, audio, seconds: float) -> None:
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
    limit = round(seconds * AUDIO_RATE)
    written = 0
    with av.open(track) as container:
        if not container.streams.audio:
            raise AssemblyError("The track has no sound.")
        for frame in container.decode(container.streams.audio[0]):
            for chunk in resampler.resample(frame):
                if written >= limit:
                    break
                chunk.pts = written
                written += chunk.samples
                for packet in audio.encode(chunk):
                    output.mux(packet)
    for packet in audio.encode(None):
        output.mux(packet)
