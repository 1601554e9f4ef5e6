"""What the simulator charges for operations outside the catalog's create calls, against Kie's price table
(tests/catalog/kie_docs/pricing-2026-06-30.md, 200 credits per dollar)."""

from __future__ import annotations

from decimal import Decimal

from .helpers import client_for
from .test_families import CB, create, get, ok_data, suno_body


def spent(kie, before: Decimal) -> Decimal:
    return before - Decimal(str(kie.sim.balance))


def test_suno_extras_charge_kies_prices(make_sim):
    kie = make_sim()
    with client_for(kie) as client:
        music = create(client, "/api/v1/generate", **suno_body())
        audio_id = get(client, "/api/v1/generate/record-info", music)["response"]["sunoData"][0]["id"]
        stems = None
        # (call, body, credits): each row of Kie's table times 200.
        for path, body, credits in [
            ("/api/v1/lyrics", {"prompt": "the sea", "callBackUrl": CB}, "0.4"),  # Generate Lyrics $0.002
            ("/api/v1/wav/generate", {"taskId": music, "audioId": audio_id, "callBackUrl": CB}, "0.4"),  # $0.002
            ("/api/v1/vocal-removal/generate", {"taskId": music, "audioId": audio_id, "callBackUrl": CB}, "10"),
            (
                "/api/v1/vocal-removal/generate",
                {"taskId": music, "audioId": audio_id, "type": "split_stem", "callBackUrl": CB},
                "50",  # Multi-Stem Separation $0.25
            ),
            ("/api/v1/midi/generate", {"taskId": music, "audioId": audio_id, "callBackUrl": CB}, "0"),  # $0
            ("/api/v1/mp4/generate", {"taskId": music, "audioId": audio_id}, "2"),  # create-music-video $0.01
        ]:
            before = Decimal(str(kie.sim.balance))
            task_id = create(client, path, **body)
            assert spent(kie, before) == Decimal(credits), path
            if body.get("type") == "split_stem":
                stems = task_id
        # MIDI made from separated stems is free too.
        before = Decimal(str(kie.sim.balance))
        create(client, "/api/v1/midi/generate", taskId=stems, callBackUrl=CB)
        assert spent(kie, before) == 0
        # Timestamped lyrics: $0.0025 for every request.
        before = Decimal(str(kie.sim.balance))
        for _ in range(2):
            ok_data(client.post("/api/v1/generate/get-timestamped-lyrics", json={"taskId": music, "audioId": audio_id}))
        assert spent(kie, before) == Decimal("1.0")


def test_veo_1080p_is_charged_once_and_4k_at_kies_price(make_sim):
    kie = make_sim(veo_1080p_pending_calls=1)
    with client_for(kie) as client:
        task_id = create(client, "/api/v1/veo/generate", prompt="a boat", model="veo3_fast", resolution="1080p")
        assert spent(kie, Decimal(10000)) == 65  # Veo 3.1 text-to-video Fast-1080p: $0.325
        before = Decimal(str(kie.sim.balance))
        first = client.get("/api/v1/veo/get-1080p-video", params={"taskId": task_id, "index": 0}).json()
        assert first["code"] == 400 and "processing" in first["msg"]
        ok_data(client.get("/api/v1/veo/get-1080p-video", params={"taskId": task_id, "index": 0}))
        ok_data(client.get("/api/v1/veo/get-1080p-video", params={"taskId": task_id, "index": 0}))
        assert spent(kie, before) == 5  # Get 1080P Video: $0.025, once
        before = Decimal(str(kie.sim.balance))
        create(client, "/api/v1/veo/get-4k-video", taskId=task_id, index=0, callBackUrl=CB)
        assert spent(kie, before) == 120  # Get 4K Video: $0.6


def test_a_1080p_copy_is_refused_without_the_credits(make_sim):
    kie = make_sim(veo_1080p_pending_calls=0)
    with client_for(kie) as client:
        task_id = create(client, "/api/v1/veo/generate", prompt="a boat")
        kie.sim.set_balance(4)
        refused = client.get("/api/v1/veo/get-1080p-video", params={"taskId": task_id, "index": 0}).json()
        assert refused["code"] == 402
        kie.sim.set_balance(5)
        assert ok_data(client.get("/api/v1/veo/get-1080p-video", params={"taskId": task_id, "index": 0}))["resultUrl"]
        assert kie.sim.balance == 0
