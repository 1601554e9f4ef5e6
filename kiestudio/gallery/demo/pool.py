"""The demo's media pool: real files rendered once into the default storage and shared by many ``Asset`` rows
(the trash purge deletes only files no row still uses)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from kiestudio.gallery.demo.vocabulary import SUBJECTS

POOL_DIR = "demo/pool"
IMAGE_POOL = 40
VIDEO_POOL = 3
AUDIO_POOL = 3
IMAGE_ASPECTS = ("1:1", "1:1", "3:4", "4:3", "16:9", "9:16", "2:3", "3:2")


@dataclass(frozen=True)
class PoolFile:
    kind: str
    name: str
    mime: str
    size: int
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    thumbnail: str = ""


def _store(name: str, data: bytes | None) -> int:
    """Save ``data`` under exactly ``name`` unless a file is already there; the stored size."""
    if not default_storage.exists(name):
        if data is None:
            raise FileNotFoundError(name)
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # a concurrent run won the race; use theirs
            default_storage.delete(saved)
    return default_storage.size(name)


def build_pool(images: int = IMAGE_POOL, videos: int = VIDEO_POOL, audios: int = AUDIO_POOL) -> dict[str, list]:
    """Real files, rendered once and reused: PNG images with WebP thumbnails, MP4 videos with posters, WAV."""
    return {"image": _images(images), "video": _videos(videos), "audio": _audios(audios)}


def _images(count: int) -> list[PoolFile]:
    from kiestudio.simulator.media import MediaItem, aspect_size, render
    from kiestudio.uploads import media as studio_media

    files: list[PoolFile] = []
    for i in range(count):
        width, height = aspect_size(IMAGE_ASPECTS[i % len(IMAGE_ASPECTS)], 512)
        name, thumb = f"{POOL_DIR}/image-{i:02d}.png", f"{POOL_DIR}/image-{i:02d}-thumb.webp"
        data = thumb_data = None
        if not (default_storage.exists(name) and default_storage.exists(thumb)):
            item = MediaItem(f"{i}.png", "image", width, height, text=SUBJECTS[i % len(SUBJECTS)], key=f"demo{i}")
            data = render(item)
            thumb_data = studio_media.image_thumbnail(io.BytesIO(data))
        size = _store(name, data)
        _store(thumb, thumb_data)
        files.append(PoolFile("image", name, "image/png", size, width, height, thumbnail=thumb))
    return files


def _videos(count: int) -> list[PoolFile]:
    from kiestudio.simulator.media import MediaItem, aspect_size, render
    from kiestudio.uploads import media as studio_media

    files: list[PoolFile] = []
    for i in range(count):
        width, height = aspect_size(("16:9", "9:16", "1:1")[i % 3], 320, even=True)
        name, poster = f"{POOL_DIR}/video-{i}.mp4", f"{POOL_DIR}/video-{i}-poster.webp"
        data = poster_data = None
        if not (default_storage.exists(name) and default_storage.exists(poster)):
            item = MediaItem(f"{i}.mp4", "video", width, height, seconds=1.0, text="Kie Studio demo", key=f"v{i}")
            data = render(item, fps=12)
            poster_data = studio_media.video_poster(io.BytesIO(data))
        size = _store(name, data)
        _store(poster, poster_data)
        files.append(PoolFile("video", name, "video/mp4", size, width, height, 1.0, thumbnail=poster))
    return files


def _audios(count: int) -> list[PoolFile]:
    from kiestudio.simulator.media import MediaItem, render

    files: list[PoolFile] = []
    for i in range(count):
        seconds = (1.0, 2.0, 1.5)[i % 3]
        name = f"{POOL_DIR}/audio-{i}.wav"
        data = None
        if not default_storage.exists(name):
            data = render(MediaItem(f"{i}.wav", "audio", seconds=seconds, key=f"a{i}"))
        size = _store(name, data)
        files.append(PoolFile("audio", name, "audio/wav", size, duration=seconds))
    return files
