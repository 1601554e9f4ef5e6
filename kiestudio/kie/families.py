"""Kie's per-family endpoints (Veo, Suno, 4o Image, Flux Kontext, Runway, Aleph) as named methods.

Each create is a spelling of one ``(path, fields)`` pair sent by :meth:`FamilyMethods._family_create`, the same
path :meth:`KieClient.create_task` (the studio's dispatch) takes; each ``*_record`` reads that family's record
through :meth:`FamilyMethods._record`, as :meth:`KieClient.get_task` does. The studio builds its creates from the
catalog; these methods are for scripts, the simulator's tests and the side APIs without a catalog entry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .types import TaskStatus

__all__ = ["FamilyMethods"]


def _wire(**named: Any) -> dict[str, Any]:
    """``named`` under Kie's camelCase names (``negative_tags`` is sent as ``negativeTags``). The methods add their
    ``extra`` after these: fields they do not name, already in Kie's spelling."""
    return {_camel(name): value for name, value in named.items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def _record_of(family: str) -> Callable[[FamilyMethods, str], TaskStatus]:
    def record(self: FamilyMethods, task_id: str) -> TaskStatus:
        return self._record(family, task_id)

    record.__name__ = f"{family}_record"
    record.__doc__ = f"The normalised record of a {family} task."
    return record


class FamilyMethods(ABC):
    """Mixed into :class:`~kiestudio.kie.client.KieClient`, which supplies the two calls below."""

    @abstractmethod
    def _family_create(
        self, path: str, fields: Mapping[str, Any], callback_url: str | None, *, field_candidates: Iterable[str] = ()
    ) -> str:
        """Create a task at ``path`` from ``fields`` (``None`` values dropped) plus the callback; Kie's task id."""

    @abstractmethod
    def _record(self, family: str, task_id: str) -> TaskStatus:
        """The normalised record of ``task_id`` from ``family``'s record endpoint."""

    # -- Veo 3.1 ----------------------------------------------------------------------------------------

    def veo_generate(
        self,
        prompt: str,
        *,
        model: str | None = None,
        image_urls: list[str] | None = None,
        aspect_ratio: str | None = None,
        generation_type: str | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        """A Veo 3.1 video from a prompt, optionally from one or two images (``generation_type`` says how)."""
        fields = {
            "prompt": prompt,
            "model": model,
            "imageUrls": image_urls,
            "aspect_ratio": aspect_ratio,
            "generationType": generation_type,
            **extra,
        }
        return self._family_create("/api/v1/veo/generate", fields, callback_url)

    veo_record = _record_of("veo")

    def veo_extend(
        self, task_id: str, prompt: str, *, model: str | None = None, callback_url: str | None = None, **extra: Any
    ) -> str:
        """Continue a finished Veo video (by its task id) with a new prompt."""
        fields = _wire(task_id=task_id, prompt=prompt, model=model)
        return self._family_create("/api/v1/veo/extend", fields | extra, callback_url)

    # -- Suno -------------------------------------------------------------------------------------------

    def suno_generate(
        self,
        *,
        model: str,
        custom_mode: bool,
        instrumental: bool,
        prompt: str | None = None,
        style: str | None = None,
        title: str | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        """A track from a prompt (``custom_mode`` off: Kie writes the lyrics) or from lyrics, style and title."""
        fields = _wire(
            prompt=prompt, custom_mode=custom_mode, instrumental=instrumental, model=model, style=style, title=title
        )
        return self._family_create("/api/v1/generate", fields | extra, callback_url)

    def suno_extend(
        self, audio_id: str, *, model: str, default_param_flag: bool, callback_url: str | None = None, **extra: Any
    ) -> str:
        """Continue a generated track (``audio_id``) from its end or a chosen point."""
        fields = _wire(audio_id=audio_id, model=model, default_param_flag=default_param_flag)
        return self._family_create("/api/v1/generate/extend", fields | extra, callback_url)

    def suno_upload_cover(
        self,
        upload_url: str,
        *,
        model: str,
        custom_mode: bool,
        instrumental: bool,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        """Re-sing an uploaded track (``upload_url``) in a new style, keeping its melody."""
        fields = _wire(upload_url=upload_url, model=model, custom_mode=custom_mode, instrumental=instrumental)
        return self._family_create("/api/v1/generate/upload-cover", fields | extra, callback_url)

    def suno_upload_extend(
        self, upload_url: str, *, model: str, default_param_flag: bool, callback_url: str | None = None, **extra: Any
    ) -> str:
        """Continue an uploaded track (``upload_url``) from its end or a chosen point."""
        fields = _wire(upload_url=upload_url, model=model, default_param_flag=default_param_flag)
        return self._family_create("/api/v1/generate/upload-extend", fields | extra, callback_url)

    def suno_add_vocals(
        self,
        upload_url: str,
        *,
        prompt: str,
        title: str,
        style: str,
        negative_tags: str,
        model: str | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        """Sing over an uploaded instrumental."""
        fields = _wire(
            upload_url=upload_url, prompt=prompt, title=title, style=style, negative_tags=negative_tags, model=model
        )
        return self._family_create("/api/v1/generate/add-vocals", fields | extra, callback_url)

    def suno_add_instrumental(
        self,
        upload_url: str,
        *,
        title: str,
        tags: str,
        negative_tags: str,
        model: str | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        """Back an uploaded vocal track with music."""
        fields = _wire(upload_url=upload_url, title=title, tags=tags, negative_tags=negative_tags, model=model)
        return self._family_create("/api/v1/generate/add-instrumental", fields | extra, callback_url)

    suno_record = _record_of("suno")

    def suno_lyrics(self, prompt: str, *, callback_url: str | None = None, **extra: Any) -> str:
        """Lyrics only (no audio) from a prompt."""
        return self._family_create("/api/v1/lyrics", {"prompt": prompt, **extra}, callback_url)

    suno_lyrics_record = _record_of("suno_lyrics")

    def suno_wav(self, task_id: str, audio_id: str, *, callback_url: str | None = None) -> str:
        """A WAV copy of one generated track."""
        return self._family_create("/api/v1/wav/generate", {"taskId": task_id, "audioId": audio_id}, callback_url)

    suno_wav_record = _record_of("suno_wav")

    def suno_separate(
        self, task_id: str, audio_id: str, *, type: str = "separate_vocal", callback_url: str | None = None
    ) -> str:
        """Vocal separation (``separate_vocal``) or full stem split (``split_stem``)."""
        fields = _wire(task_id=task_id, audio_id=audio_id, type=type)
        return self._family_create("/api/v1/vocal-removal/generate", fields, callback_url)

    suno_separation_record = _record_of("suno_vocal_removal")

    def suno_midi(self, task_id: str, *, audio_id: str | None = None, callback_url: str | None = None) -> str:
        """MIDI from a separated track (``task_id`` is the separation's)."""
        return self._family_create("/api/v1/midi/generate", {"taskId": task_id, "audioId": audio_id}, callback_url)

    suno_midi_record = _record_of("suno_midi")

    def suno_music_video(
        self,
        task_id: str,
        audio_id: str,
        *,
        author: str | None = None,
        domain_name: str | None = None,
        callback_url: str | None = None,
    ) -> str:
        """An MP4 music video of one generated track."""
        fields = _wire(task_id=task_id, audio_id=audio_id, author=author, domain_name=domain_name)
        return self._family_create("/api/v1/mp4/generate", fields, callback_url)

    suno_music_video_record = _record_of("suno_mp4")

    def suno_mashup(
        self,
        upload_urls: list[str],
        *,
        model: str,
        custom_mode: bool,
        prompt: str | None = None,
        style: str | None = None,
        title: str | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        """Blend two uploaded tracks into new music (exactly two URLs); the record is Suno's own."""
        fields = {
            "uploadUrlList": list(upload_urls),
            "model": model,
            "customMode": custom_mode,
            "prompt": prompt,
            "style": style,
            "title": title,
            **extra,
        }
        return self._family_create("/api/v1/generate/mashup", fields, callback_url)

    def suno_replace_section(
        self,
        task_id: str,
        audio_id: str,
        *,
        start: float,
        end: float,
        prompt: str,
        tags: str,
        title: str,
        full_lyrics: str,
        negative_tags: str | None = None,
        callback_url: str | None = None,
    ) -> str:
        """Regenerate seconds ``start``–``end`` (6 to 60 s) of a track; the record is Suno's own."""
        fields = {
            "taskId": task_id,
            "audioId": audio_id,
            "infillStartS": start,
            "infillEndS": end,
            "prompt": prompt,
            "tags": tags,
            "title": title,
            "fullLyrics": full_lyrics,
            "negativeTags": negative_tags,
        }
        return self._family_create("/api/v1/generate/replace-section", fields, callback_url)

    def suno_cover_art(self, task_id: str, *, callback_url: str | None = None) -> str:
        """Cover pictures for a music task (once per task: Kie refuses a second request)."""
        return self._family_create("/api/v1/suno/cover/generate", {"taskId": task_id}, callback_url)

    suno_cover_art_record = _record_of("suno_cover")

    # -- 4o Image ---------------------------------------------------------------------------------------

    def gpt4o_generate(
        self,
        *,
        size: str,
        prompt: str | None = None,
        files_url: list[str] | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        """A 4o image from a prompt and/or reference images (``files_url``)."""
        fields = _wire(prompt=prompt, size=size, files_url=files_url)
        return self._family_create("/api/v1/gpt4o-image/generate", fields | extra, callback_url)

    gpt4o_record = _record_of("gpt4o_image")

    # -- Flux Kontext -----------------------------------------------------------------------------------

    def flux_kontext_generate(
        self,
        prompt: str,
        *,
        model: str | None = None,
        input_image: str | None = None,
        aspect_ratio: str | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        """A Flux Kontext image from a prompt, or an edit of ``input_image``."""
        fields = _wire(prompt=prompt, model=model, input_image=input_image, aspect_ratio=aspect_ratio)
        return self._family_create("/api/v1/flux/kontext/generate", fields | extra, callback_url)

    flux_kontext_record = _record_of("flux_kontext")

    # -- Runway and Aleph -------------------------------------------------------------------------------

    def runway_generate(
        self,
        prompt: str,
        *,
        duration: int,
        quality: str,
        image_url: str | None = None,
        aspect_ratio: str | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        """A Runway video from a prompt, optionally from an image."""
        fields = _wire(
            prompt=prompt, duration=duration, quality=quality, image_url=image_url, aspect_ratio=aspect_ratio
        )
        return self._family_create("/api/v1/runway/generate", fields | extra, callback_url)

    runway_record = _record_of("runway")

    def runway_extend(
        self, task_id: str, prompt: str, *, quality: str, callback_url: str | None = None, **extra: Any
    ) -> str:
        """Continue a finished Runway video (by its task id)."""
        fields = _wire(task_id=task_id, prompt=prompt, quality=quality)
        return self._family_create("/api/v1/runway/extend", fields | extra, callback_url)

    def aleph_generate(self, prompt: str, video_url: str, *, callback_url: str | None = None, **extra: Any) -> str:
        """Restyle or edit a video (``video_url``) with Runway Aleph."""
        return self._family_create(
            "/api/v1/aleph/generate", {"prompt": prompt, "videoUrl": video_url, **extra}, callback_url
        )

    aleph_record = _record_of("aleph")
