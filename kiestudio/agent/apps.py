from __future__ import annotations

from django.apps import AppConfig


class AgentConfig(AppConfig):
    name = "kiestudio.agent"
    label = "agent"
    verbose_name = "Chat tools"

    def ready(self) -> None:
        from kiestudio.agent import services
        from kiestudio.chat import toolbox
        from kiestudio.studio.signals import generation_ended

        toolbox.register(services.StudioToolbox())
        generation_ended.connect(services.on_generation_ended, dispatch_uid="agent-generation-ended")
