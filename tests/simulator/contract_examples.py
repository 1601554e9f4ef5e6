"""JSON examples copied from the Kie API contract, /work/shared/kie-api.md (section cited on each).

Only shapes matter here: the tests compare keys and JSON value types, never the values. ``…`` in the
contract became a plain placeholder string.
"""

from __future__ import annotations

# Section 2.1: create task success response.
CREATE_RESPONSE = {"code": 200, "msg": "success", "data": {"taskId": "task_seedream_1765173396122"}}

# Section 2.2: GET /api/v1/jobs/recordInfo.
RECORD_INFO = {
    "code": 200,
    "msg": "success",
    "data": {
        "taskId": "task_12345678",
        "model": "grok-imagine/text-to-image",
        "state": "success",
        "param": '{"model":"grok-imagine/text-to-image","callBackUrl":"https://your-domain.com/api/callback",'
        '"input":{"prompt":"…","aspect_ratio":"3:2"}}',
        "resultJson": '{"resultUrls":["https://example.com/generated-content.jpg"]}',
        "failCode": "",
        "failMsg": "",
        "costTime": 15000,
        "completeTime": 1698765432000,
        "createTime": 1698765400000,
        "updateTime": 1698765432000,
    },
}

# Section 2.2: recordInfo error bodies.
RECORD_INFO_ERRORS = {
    400: {"code": 400, "msg": "taskId parameter is required"},
    404: {"code": 404, "msg": "Task not found"},
    429: {"code": 429, "msg": "Rate limit exceeded"},
}

# Section 1.2: missing or bad key.
UNAUTHORIZED = {"code": 401, "msg": "You do not have access permissions"}

# Section 1.7 / 2.3: GET /api/v1/chat/credit and POST /api/v1/common/download-url.
CREDIT = {"code": 200, "msg": "success", "data": 100}
DOWNLOAD_URL = {"code": 200, "msg": "success", "data": "https://…signed…"}

# Section 3.1: Market callback (success). Failure: code 501, resultJson null.
MARKET_CALLBACK = {
    "code": 200,
    "msg": "Playground task completed successfully.",
    "data": {
        "taskId": "e989621f54392584b05867f87b160672",
        "model": "sora-2-text-to-video",
        "state": "success",
        "param": '{"callBackUrl":"https://…","model":"sora-2-text-to-video","input":{}}',
        "resultJson": '{"resultUrls":["https://…mp4"],"resultWaterMarkUrls":["https://…"]}',
        "failCode": None,
        "failMsg": None,
        "costTime": 8,
        "completeTime": 1755599644000,
        "createTime": 1755599634000,
    },
}

# Section 3.2: Veo 3.1 callback (generate and extend) and the Veo 4K callback.
VEO_CALLBACK = {
    "code": 200,
    "msg": "Veo3.1 video generated successfully.",
    "data": {
        "taskId": "veo_task_abcdef123456",
        "promptJson": '{"aspectRatio":"16:9","model":"veo3_fast","prompt":"cat"}',
        "info": {
            "resultUrls": ["http://example.com/video1.mp4"],
            "originUrls": ["http://example.com/original_video1.mp4"],
            "resolution": "1080p",
        },
        "fallbackFlag": False,
    },
}
VEO_CALLBACK_FAILURE = {"code": 400, "msg": "<content policy text>", "data": {"taskId": "…", "fallbackFlag": False}}
VEO_4K_CALLBACK = {
    "code": 200,
    "msg": "4K Video generated successfully.",
    "data": {"task_id": "…", "result_urls": ["…mp4"], "media_ids": ["…"], "image_urls": ["…jpg"]},
}
# Field reports / newest pages (section 8b): the 4K callback camelCase, under ``info`` (newest Chinese page) or at
# the top of ``data`` (English page); a failure is code 500 with data.taskId.
VEO_4K_CALLBACK_INFO = {
    "code": 200,
    "msg": "4K Video generated successfully.",
    "data": {"taskId": "…", "info": {"resultUrls": ["…mp4"], "imageUrls": ["…jpg"]}},
}
VEO_4K_CALLBACK_FLAT = {
    "code": 200,
    "msg": "success",
    "data": {"taskId": "…", "resultUrls": ["…mp4"], "imageUrls": ["…jpg"]},
}
VEO_4K_CALLBACK_FAILURE = {"code": 500, "msg": "error description", "data": {"taskId": "…"}}

# Section 3.3: Suno music callback (staged) and lyrics callback.
SUNO_CALLBACK = {
    "code": 200,
    "msg": "All generated successfully.",
    "data": {
        "callbackType": "complete",
        "task_id": "2fac****9f72",
        "data": [
            {
                "id": "e231…8cadc7dc",
                "audio_url": "https://….mp3",
                "stream_audio_url": "https://…",
                "image_url": "https://….jpeg",
                "prompt": "[Verse] …",
                "model_name": "chirp-v3-5",
                "title": "…",
                "tags": "electrifying, rock",
                "createTime": "2025-01-01 00:00:00",
                "duration": 198.44,
            }
        ],
    },
}
SUNO_ERROR_CALLBACK = {"code": 501, "msg": "…", "data": {"callbackType": "error", "task_id": "…", "data": None}}
SUNO_LYRICS_CALLBACK = {
    "code": 200,
    "msg": "All generated successfully.",
    "data": {
        "callbackType": "complete",
        "task_id": "…",
        "data": [{"text": "[Verse]…", "title": "…", "status": "complete", "error_message": ""}],
    },
}

# Section 3.4: 4o Image callback (success and failure).
GPT4O_CALLBACK = {
    "code": 200,
    "msg": "success",
    "data": {"taskId": "task12345", "info": {"result_urls": ["https://…/image1.png"]}},
}
GPT4O_CALLBACK_FAILURE = {"code": 400, "msg": "…flagged by OpenAI…", "data": {"taskId": "…", "info": None}}

# Section 3.5: Flux Kontext callback.
FLUX_CALLBACK = {
    "code": 200,
    "msg": "BFL image generated successfully.",
    "data": {"taskId": "…", "info": {"originImageUrl": "…", "resultImageUrl": "…"}},
}

# Section 3.6: Runway and Aleph callbacks (Aleph has taskId at the top level).
RUNWAY_CALLBACK = {
    "code": 200,
    "msg": "All generated successfully.",
    "data": {
        "task_id": "ee603959-…",
        "video_id": "485da89c-…",
        "video_url": "https://…mp4",
        "image_url": "https://…png",
    },
}
ALEPH_CALLBACK = {
    "code": 200,
    "msg": "success",
    "data": {"result_video_url": "…", "result_image_url": "…"},
    "taskId": "ee603959-…",
}

# Section 4: File Upload API response (reference pages).
UPLOAD_RESPONSE = {
    "success": True,
    "code": 200,
    "msg": "File uploaded successfully",
    "data": {
        "fileName": "uploaded-image.png",
        "filePath": "images/user-uploads/uploaded-image.png",
        "downloadUrl": "https://tempfile.redpandaai.co/xxx/images/user-uploads/uploaded-image.png",
        "fileSize": 154832,
        "mimeType": "image/png",
        "uploadedAt": "2025-01-01T12:00:00.000Z",
    },
}

# Section 5.1: Veo record-info.
VEO_RECORD_INFO = {
    "code": 200,
    "msg": "success",
    "data": {
        "taskId": "veo_task_abcdef123456",
        "paramJson": '{"prompt":"…","waterMark":"KieAI"}',
        "completeTime": "2025-06-06 10:30:00",
        "response": {
            "taskId": "veo_task_abcdef123456",
            "resultUrls": ["http://…/video1.mp4"],
            "originUrls": ["http://…"],
            "resolution": "1080p",
            "fullResultUrls": ["…"],
        },
        "successFlag": 1,
        "errorCode": None,
        "errorMessage": "",
        "createTime": "2025-06-06 10:25:00",
        "fallbackFlag": False,
    },
}

# Section 5.2-5.5: record endpoints described as field lists (no JSON example in the contract).
SUNO_RECORD_FIELDS = {
    "taskId",
    "parentMusicId",
    "param",
    "response",
    "status",
    "type",
    "operationType",
    "errorCode",
    "errorMessage",
}
SUNO_TRACK_FIELDS = {
    "id",
    "audioUrl",
    "streamAudioUrl",
    "imageUrl",
    "prompt",
    "modelName",
    "title",
    "tags",
    "createTime",
    "duration",
}
SUNO_LYRICS_RECORD_FIELDS = {"taskId", "param", "response", "status", "errorCode", "errorMessage"}
GPT4O_RECORD_FIELDS = {
    "taskId",
    "paramJson",
    "completeTime",
    "response",
    "successFlag",
    "status",
    "errorCode",
    "errorMessage",
    "createTime",
    "progress",
}
FLUX_RECORD_FIELDS = {
    "taskId",
    "paramJson",
    "completeTime",
    "response",
    "successFlag",
    "errorCode",
    "errorMessage",
    "createTime",
}
RUNWAY_RECORD_FIELDS = {
    "taskId",
    "parentTaskId",
    "generateParam",
    "state",
    "generateTime",
    "videoInfo",
    "failCode",
    "failMsg",
    "expireFlag",
}
ALEPH_RECORD_FIELDS = {
    "taskId",
    "paramJson",
    "response",
    "completeTime",
    "createTime",
    "successFlag",
    "errorCode",
    "errorMessage",
}

# Section 7.1: Claude non-stream response.
CLAUDE_RESPONSE = {
    "id": "msg_01VSoxV4a8YWB3DBh9TdM63W",
    "type": "message",
    "role": "assistant",
    "model": "claude-opus-4-5-20251101",
    "content": [
        {
            "type": "tool_use",
            "id": "toolu_018gdqs2FHxrRjQHLZv1qvbF",
            "name": "get_current_weather",
            "input": {"location": "Beijing, China"},
            "caller": {"type": "direct"},
        }
    ],
    "stop_reason": "tool_use",
    "usage": {
        "input_tokens": 600,
        "output_tokens": 57,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "service_tier": "standard",
        "inference_geo": "not_available",
    },
    "credits_consumed": 0.25,
}

# Section 7.1: the Anthropic stream frames (abbreviated in the contract, so compared as subsets).
CLAUDE_STREAM = {
    "message_start": {
        "type": "message_start",
        "message": {
            "id": "msg_…",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "…",
            "stop_reason": None,
            "usage": {"input_tokens": 12, "output_tokens": 0},
        },
    },
    "content_block_start": {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    "content_block_delta": {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "Hello"},
    },
    "content_block_stop": {"type": "content_block_stop", "index": 0},
    "message_delta": {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 5}},
    "message_stop": {"type": "message_stop"},
}
