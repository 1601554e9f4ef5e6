"""Small, real media files for upload tests, made on the spot (PyAV for video and MP3, the stdlib for WAV)."""

from __future__ import annotations

import io
from fractions import Fraction

from kiestudio.simulator.media import MediaItem, render_audio, render_video


def mp4_bytes(seconds: float = 2.0, *, size: int = 64, fps: int = 4, key: str = "clip") -> bytes:
    return render_video(MediaItem("clip.mp4", "video", size, size, seconds, "Clip", "", key), fps=fps)


def wav_bytes(seconds: float = 1.0, *, key: str = "voice") -> bytes:
    return render_audio(MediaItem("voice.wav", "audio", seconds=seconds, key=key))


def encoded_audio(fmt: str, codec: str, seconds: float = 1.0, rate: int = 44100) -> bytes:
    """Silence in another container (``mp3``/``libmp3lame``, ``flac``/``flac``)."""
    import av

    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.time_base = Fraction(1, rate)
        samples, pts = 1152, 0
        while pts < seconds * rate:
            frame = av.AudioFrame(format=stream.format.name, layout="mono", samples=samples)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate, frame.pts = rate, pts
            pts += samples
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()
