"""Checking files by their content, and making thumbnails and posters.

Nothing here trusts a file name or a Content-Type header: images are opened with Pillow, audio and video with
PyAV (which bundles FFmpeg's demuxers and decoders).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO

from PIL import Image, UnidentifiedImageError

IMAGE_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
IMAGE_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
REFERENCE_FORMATS = {"JPEG", "PNG", "WEBP"}
THUMB_SIZE = (640, 640)
Image.MAX_IMAGE_PIXELS = 80_000_000


class MediaError(Exception):
    """The file is not what it should be. The message is safe to show."""


@dataclass(frozen=True)
class Probe:
    kind: str  # image | video | audio | file (MIDI)
    mime_type: str
    extension: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None


def probe_image(fh: IO[bytes], *, allowed: set[str] | None = None) -> Probe:
    fh.seek(0)
    try:
        with Image.open(fh) as image:
            image.verify()
        fh.seek(0)
        with Image.open(fh) as image:
            fmt = image.format or ""
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise MediaError("The file is not an image we can read.") from exc
    if fmt not in IMAGE_MIME or (allowed is not None and fmt not in allowed):
        names = ", ".join(sorted(allowed or IMAGE_MIME))
        raise MediaError(f"{fmt or 'This'} images are not accepted; use {names}.")
    mime = IMAGE_MIME[fmt]
    return Probe("image", mime, IMAGE_EXT[mime], width, height)


def _av_open(fh: IO[bytes]):
    import av

    fh.seek(0)
    return av.open(fh, mode="r")


AV_MIME = {
    "mp4": ("video/mp4", "mp4"),
    "mov": ("video/mp4", "mp4"),
    "webm": ("video/webm", "webm"),
    "matroska": ("video/webm", "webm"),
    "mp3": ("audio/mpeg", "mp3"),
    "wav": ("audio/wav", "wav"),
    "ogg": ("audio/ogg", "ogg"),
    "flac": ("audio/flac", "flac"),
    "aac": ("audio/aac", "aac"),
}


def probe_av(fh: IO[bytes]) -> Probe:
    import av

    try:
        container = _av_open(fh)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaError("The file is not audio or video we can read.") from exc
    with container:
        names = container.format.name.split(",")
        video = next(iter(container.streams.video), None)
        audio = next(iter(container.streams.audio), None)
        duration = None
        if container.duration is not None:
            duration = round(container.duration / 1_000_000, 3)
        mime, ext = next((AV_MIME[n] for n in names if n in AV_MIME), (None, None))
        if mime is None or ext is None:
            raise MediaError(f"The {container.format.name} format is not supported.")
        if video is not None and video.codec_context.width and mime.startswith("video/"):
            return Probe("video", mime, ext, video.codec_context.width, video.codec_context.height, duration)
        if audio is not None:
            if mime.startswith("video/"):
                mime, ext = ("audio/mp4", "m4a")
            return Probe("audio", mime, ext, None, None, duration)
    raise MediaError("The file has neither audio nor video.")


def probe_clip(fh: IO[bytes]) -> Probe:
    """A video or sound a creator gives as an input: its exact container (MP4 and QuickTime, Matroska and WebM are
    told apart, as Kie's models accept some and not others), its length, and proof that it decodes (the first frame
    of picture, or of sound, must)."""
    import av

    try:
        container = _av_open(fh)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaError("The file is not a video or a sound file we can read.") from exc
    with container:
        names = container.format.name.split(",")
        # A song's cover art is a "video" stream of one picture: it doesn't make the file a video.
        cover = av.stream.Disposition.attached_pic
        video = next((s for s in container.streams.video if s.codec_context.width and not s.disposition & cover), None)
        audio = next(iter(container.streams.audio), None)
        stream = video or audio
        if stream is None:
            raise MediaError("The file has neither picture nor sound.")
        kind = "video" if video is not None else "audio"
        mime, ext = _clip_type(fh, names, container.metadata.get("major_brand", ""), kind)
        if mime is None or ext is None:  # both or neither
            raise MediaError(f"The {container.format.name} format is not supported.")
        duration = None
        if container.duration is not None and container.duration > 0:
            duration = round(container.duration / 1_000_000, 3)
        elif stream.duration and stream.time_base:
            duration = round(float(stream.duration * stream.time_base), 3)
        try:
            next(container.decode(stream))
        except (av.error.FFmpegError, StopIteration, ValueError) as exc:
            what = "picture" if kind == "video" else "sound"
            raise MediaError(f"Not a single frame of its {what} could be decoded: the file may be damaged.") from exc
        width = video.codec_context.width if video is not None else None
        height = video.codec_context.height if video is not None else None
        return Probe(kind, mime, ext, width, height, duration)


def _clip_type(fh: IO[bytes], names: list[str], brand: str, kind: str) -> tuple[str | None, str | None]:
    if "mp4" in names or "mov" in names:
        if kind == "audio":
            return "audio/mp4", "m4a"
        return ("video/quicktime", "mov") if brand.strip() == "qt" else ("video/mp4", "mp4")
    if "matroska" in names:
        position = fh.tell()  # PyAV is reading this file too: put it back where it was
        fh.seek(0)
        webm = b"webm" in fh.read(64)  # the EBML header's DocType
        fh.seek(position)
        if kind == "audio":
            return ("audio/webm", "webm") if webm else ("audio/x-matroska", "mka")
        return ("video/webm", "webm") if webm else ("video/x-matroska", "mkv")
    for name in names:
        if name in AV_MIME and AV_MIME[name][0].startswith(f"{kind}/"):
            return AV_MIME[name]
    return None, None


def probe(fh: IO[bytes]) -> Probe:
    """Images first (cheap), then audio and video."""
    try:
        return probe_image(fh)
    except MediaError:
        return probe_av(fh)


def image_thumbnail(fh: IO[bytes]) -> bytes:
    fh.seek(0)
    image: Image.Image  # an ImageFile, until converted
    with Image.open(fh) as image:
        image.thumbnail(THUMB_SIZE)
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        out = io.BytesIO()
        image.save(out, "WEBP", quality=82, method=2)
    return out.getvalue()


def video_poster(fh: IO[bytes]) -> bytes | None:
    """The first decodable frame as a WebP thumbnail, or None when no frame decodes."""
    import av

    try:
        with _av_open(fh) as container:
            stream = next(iter(container.streams.video), None)
            if stream is None:
                return None
            for frame in container.decode(stream):
                image = frame.to_image()
                image.thumbnail(THUMB_SIZE)
                out = io.BytesIO()
                image.save(out, "WEBP", quality=80, method=2)
                return out.getvalue()
    except (av.error.FFmpegError, OSError, ValueError):
        return None
    return None


# General MIDI programs for the instrument names Kie's MIDI conversion uses (anything else is a piano).
GM_PROGRAMS = {
    "acoustic grand piano": 0,
    "electric piano": 4,
    "acoustic guitar": 24,
    "electric guitar": 27,
    "electric bass (finger)": 33,
    "electric bass (pick)": 34,
    "synth bass": 38,
    "strings": 48,
    "string ensemble": 48,
    "choir": 52,
    "trumpet": 56,
    "saxophone": 65,
    "flute": 73,
    "synth lead": 80,
    "synth pad": 88,
}
MIDI_TICKS_PER_BEAT = 480
MIDI_TEMPO = 500_000  # µs per beat: 120 bpm, so one second is 960 ticks


def midi_file(instruments: list[dict]) -> bytes:
    """A Standard MIDI File (type 1) from Kie's notes: one track per instrument, times in seconds, velocity as
    0–1 (or 0–127). Drums go on channel 10, as General MIDI expects."""
    import mido

    ticks_per_second = MIDI_TICKS_PER_BEAT * 1_000_000 / MIDI_TEMPO
    song = mido.MidiFile(type=1, ticks_per_beat=MIDI_TICKS_PER_BEAT)
    song.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=MIDI_TEMPO, time=0)]))
    melodic = iter(ch for ch in range(16) if ch != 9)
    for instrument in instruments:
        name = str(instrument.get("name") or "Instrument")[:60]
        drums = "drum" in name.lower() or bool(instrument.get("is_drum"))
        channel = 9 if drums else next(melodic, 0)
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        if not drums:
            program = GM_PROGRAMS.get(name.lower(), 0)
            track.append(mido.Message("program_change", channel=channel, program=program, time=0))
        events: list[tuple[int, int, str, int, int]] = []  # (tick, order, type, pitch, velocity); offs sort first
        for note in instrument.get("notes") or ():
            try:
                pitch = int(note["pitch"])
                start, end = float(note["start"]), float(note["end"])
                velocity = float(note.get("velocity", 1))
            except (KeyError, TypeError, ValueError):
                continue
            if not 0 <= pitch <= 127 or end <= start or start < 0:
                continue
            velocity = round(velocity * 127) if velocity <= 1 else round(velocity)
            velocity = max(1, min(127, velocity))
            events.append((round(start * ticks_per_second), 1, "note_on", pitch, velocity))
            events.append((round(end * ticks_per_second), 0, "note_off", pitch, 0))
        events.sort()
        now = 0
        for tick, _order, kind, pitch, velocity in events:
            track.append(mido.Message(kind, channel=channel, note=pitch, velocity=velocity, time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        song.tracks.append(track)
    out = io.BytesIO()
    song.save(file=out)
    return out.getvalue()


def midi_summary(data: bytes) -> dict:
    """What a MIDI file holds, for its card: tracks with their note counts, and its length in seconds."""
    import mido

    song = mido.MidiFile(file=io.BytesIO(data))
    tracks = []
    for track in song.tracks:
        notes = sum(1 for msg in track if msg.type == "note_on" and msg.velocity > 0)
        if notes:
            tracks.append({"name": track.name or "Track", "notes": notes})
    return {"tracks": tracks, "seconds": round(song.length, 2)}
