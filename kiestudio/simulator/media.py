"""Real, deterministic media: images (Pillow), WAV audio (stdlib ``wave``) and H.264 MP4 (PyAV).

Every function is pure: the same arguments give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import textwrap
import wave
from dataclasses import dataclass
from fractions import Fraction

from PIL import Image, ImageDraw, ImageFont

IMAGE_MIME = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp"}
MIME = {**IMAGE_MIME, "wav": "audio/wav", "mp4": "video/mp4", "json": "application/json", "mid": "audio/midi"}
PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}

NAMED_SIZES = {
    "square": "1:1",
    "square_hd": "1:1",
    "portrait_4_3": "3:4",
    "portrait_3_2": "2:3",
    "portrait_16_9": "9:16",
    "landscape_4_3": "4:3",
    "landscape_3_2": "3:2",
    "landscape_16_9": "16:9",
    "landscape_21_9": "21:9",
    "portrait": "9:16",
    "landscape": "16:9",
}


@dataclass(frozen=True)
class MediaItem:
    """One file a task produces, served at ``/_sim/media/<task_id>/<name>``."""

    name: str  # "<n>.<ext>"
    kind: str  # image | audio | video
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    text: str = ""
    subtitle: str = ""
    key: str = ""  # seed for colours and tones

    @property
    def ext(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def mime(self) -> str:
        return MIME.get(self.ext, "application/octet-stream")


def digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()


def aspect_size(ratio: str | None, long_side: int, *, even: bool = False) -> tuple[int, int]:
    """Pixel size for an aspect ratio such as ``16:9`` / ``landscape_4_3`` (unknown or ``auto`` -> square)."""
    ratio = NAMED_SIZES.get(str(ratio or ""), str(ratio or ""))
    try:
        w_text, h_text = ratio.split(":")
        rw, rh = float(w_text), float(h_text)
        if rw <= 0 or rh <= 0:
            raise ValueError
    except ValueError:
        rw = rh = 1.0
    if rw >= rh:
        width, height = long_side, max(16, round(long_side * rh / rw))
    else:
        width, height = max(16, round(long_side * rw / rh)), long_side
    if even:
        width, height = width - width % 2, height - height % 2
    return width, height


def _palette(key: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    d = digest("palette", key)
    top = (40 + d[0] % 120, 40 + d[1] % 120, 60 + d[2] % 140)
    bottom = (d[3] % 80, d[4] % 80, d[5] % 90)
    return top, bottom


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()


def draw_card(width: int, height: int, text: str, subtitle: str, key: str, phase: float = 0.0) -> Image.Image:
    """A gradient card showing ``text`` (the prompt) and a small ``subtitle``."""
    top, bottom = _palette(key)
    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.composite(Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), gradient)
    draw = ImageDraw.Draw(image)
    # A moving bar makes consecutive video frames differ.
    bar_x = int((width - width // 6) * phase)
    draw.rectangle((bar_x, height - height // 12, bar_x + width // 6, height), fill=(255, 255, 255))
    size = max(10, min(width, height) // 14)
    font = _font(size)
    chars = max(8, int(width / (size * 0.55)))
    lines = textwrap.wrap(text or "(no prompt)", width=chars)[: max(1, (height // (size + 4)) - 3)]
    y = max(4, height // 10)
    for line in lines:
        draw.text((max(4, width // 20), y), line, fill=(255, 255, 255), font=font)
        y += size + 4
    small = _font(max(8, size * 2 // 3))
    draw.text((max(4, width // 20), height - height // 12 - size - 6), subtitle, fill=(230, 230, 230), font=small)
    return image


def render_image(item: MediaItem) -> bytes:
    image = draw_card(item.width, item.height, item.text, item.subtitle, item.key)
    buf = io.BytesIO()
    fmt = PIL_FORMAT.get(item.ext, "PNG")
    if fmt == "JPEG":
        image.save(buf, format=fmt, quality=85)
    elif fmt == "WEBP":
        image.save(buf, format=fmt, quality=80, method=0)
    else:
        image.save(buf, format=fmt, optimize=False)
    return buf.getvalue()


AUDIO_RATE = 16000
_SCALES = ((0, 4, 7, 12), (0, 3, 7, 10), (0, 5, 9, 12), (0, 4, 9, 11))


def render_audio(item: MediaItem) -> bytes:
    """A few seconds of 16-bit mono tones (an arpeggio whose key and pattern depend on ``item.key``)."""
    d = digest("audio", item.key)
    base = 196.0 * 2 ** ((d[0] % 12) / 12)
    scale = _SCALES[d[1] % len(_SCALES)]
    total = max(1, int(item.seconds * AUDIO_RATE))
    note_len = AUDIO_RATE // 4
    samples = bytearray()
    for start in range(0, total, note_len):
        step = scale[d[2 + (start // note_len) % 20] % len(scale)]
        freq = base * 2 ** (step / 12)
        count = min(note_len, total - start)
        w = 2 * math.pi * freq / AUDIO_RATE
        for i in range(count):
            envelope = min(1.0, i / 200, (count - i) / 400)
            value = 0.35 * envelope * (math.sin(w * i) + 0.3 * math.sin(2 * w * i))
            samples += struct.pack("<h", int(value * 32767))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(AUDIO_RATE)
        out.writeframes(bytes(samples))
    return buf.getvalue()


def render_video(item: MediaItem, fps: int = 12) -> bytes:
    """A short H.264 MP4 whose frames show the prompt and a moving bar."""
    import av  # imported lazily: PyAV is heavy and only video needs it

    frames = max(2, round(item.seconds * fps))
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = item.width
        stream.height = item.height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"preset": "ultrafast", "tune": "stillimage", "crf": "30", "threads": "1"}
        base = draw_card(item.width, item.height, item.text, item.subtitle, item.key)
        draw_bar = ImageDraw.Draw
        for index in range(frames):
            image = base.copy()
            phase = index / (frames - 1)
            bar_x = int((item.width - item.width // 6) * phase)
            draw_bar(image).rectangle(
                (0, item.height - item.height // 12, item.width, item.height), fill=_palette(item.key)[1]
            )
            draw_bar(image).rectangle(
                (bar_x, item.height - item.height // 12, bar_x + item.width // 6, item.height), fill=(255, 255, 255)
            )
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]  # PyAV leaves it unannotated
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def render(item: MediaItem, *, fps: int = 12) -> bytes:
    if item.kind == "image":
        return render_image(item)
    if item.kind == "audio":
        return render_audio(item)
    if item.kind == "video":
        return render_video(item, fps=fps)
    raise ValueError(f"unknown media kind {item.kind!r}")


def sniff_mime(data: bytes, filename: str = "") -> str:
    """MIME type of uploaded bytes, from magic numbers first and the file name second."""
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    if data.startswith(b"GIF8"):
        return "image/gif"
    if data.startswith(b"ID3") or data[:2] == b"\xff\xfb":
        return "audio/mpeg"
    import mimetypes

    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"
