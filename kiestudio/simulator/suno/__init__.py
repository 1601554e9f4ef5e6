"""Suno family (contract 5.2 and 3.3): music, extend/cover/add-*, mashup, replace section, lyrics, WAV, stems, MIDI,
MP4, cover art, personas and style boost.

:mod:`.music` makes music and answers its record; :mod:`.remix` makes music from given audio (mashup, replace
section); :mod:`.lyrics`, :mod:`.derived` (WAV, stems, MIDI, MP4) and :mod:`.extras` (cover art, personas, style
boost) serve the rest; :mod:`.shared` holds the models, operations and body checks they all use. Importing a
module registers its callbacks.
"""

from __future__ import annotations

from starlette.routing import Route

from ..family import record_endpoint
from .derived import (
    midi_data,
    midi_generate,
    mp4_data,
    mp4_generate,
    vocal_data,
    vocal_removal_generate,
    wav_data,
    wav_generate,
)
from .extras import cover_data, cover_generate, generate_persona, style_generate
from .lyrics import lyrics, lyrics_data, timestamped_lyrics
from .music import add_instrumental, add_vocals, extend, find_track, generate, music_data, upload_cover, upload_extend
from .remix import mashup, replace_section
from .shared import MUSIC_OPS

__all__ = ["find_track", "routes"]

routes = [
    Route("/api/v1/generate", generate, methods=["POST"]),
    Route("/api/v1/generate/record-info", record_endpoint("suno", music_data, ops=MUSIC_OPS), methods=["GET"]),
    Route("/api/v1/generate/extend", extend, methods=["POST"]),
    Route("/api/v1/generate/upload-cover", upload_cover, methods=["POST"]),
    Route("/api/v1/generate/upload-extend", upload_extend, methods=["POST"]),
    Route("/api/v1/generate/add-vocals", add_vocals, methods=["POST"]),
    Route("/api/v1/generate/add-instrumental", add_instrumental, methods=["POST"]),
    Route("/api/v1/generate/mashup", mashup, methods=["POST"]),
    Route("/api/v1/generate/replace-section", replace_section, methods=["POST"]),
    Route("/api/v1/generate/generate-persona", generate_persona, methods=["POST"]),
    Route("/api/v1/style/generate", style_generate, methods=["POST"]),
    Route("/api/v1/suno/cover/generate", cover_generate, methods=["POST"]),
    Route("/api/v1/suno/cover/record-info", record_endpoint("suno", cover_data, ops=("cover_art",)), methods=["GET"]),
    Route("/api/v1/generate/get-timestamped-lyrics", timestamped_lyrics, methods=["POST"]),
    Route("/api/v1/lyrics", lyrics, methods=["POST"]),
    Route("/api/v1/lyrics/record-info", record_endpoint("suno", lyrics_data, ops=("lyrics",)), methods=["GET"]),
    Route("/api/v1/wav/generate", wav_generate, methods=["POST"]),
    Route("/api/v1/wav/record-info", record_endpoint("suno", wav_data, ops=("wav",)), methods=["GET"]),
    Route("/api/v1/vocal-removal/generate", vocal_removal_generate, methods=["POST"]),
    Route(
        "/api/v1/vocal-removal/record-info",
        record_endpoint("suno", vocal_data, ops=("vocal_removal",)),
        methods=["GET"],
    ),
    Route("/api/v1/midi/generate", midi_generate, methods=["POST"]),
    Route("/api/v1/midi/record-info", record_endpoint("suno", midi_data, ops=("midi",)), methods=["GET"]),
    Route("/api/v1/mp4/generate", mp4_generate, methods=["POST"]),
    Route("/api/v1/mp4/record-info", record_endpoint("suno", mp4_data, ops=("mp4",)), methods=["GET"]),
]
