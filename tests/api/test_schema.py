"""Every endpoint against the OpenAPI schema it serves: schemathesis generates requests (valid and not) for each
operation of /api/v1/openapi.json and checks each answer's status, content type, headers and body against it,
in-process through the WSGI app. Creates stay in the test's transaction, so nothing is handed to Kie."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from kiestudio.studio.models import Generation
from kiestudio.workspaces.models import Workspace
from tests.api.conftest import bearer, make_token
from tests.studio.helpers import workspace_of
from tests.workspaces.test_url_tenancy import make_objects

EXAMPLES = 15


def excluded(operation) -> list:
    """A model's inputs are checked by the catalog (per model, with conditions a JSON Schema can't state), so a
    schema-valid body may still be a 400 naming the field (a chat model too): for the bodies that name a model, "schema-valid
    means accepted" is not a promise the API makes. Every other check runs on them."""
    if operation.method.upper() == "POST":
        return [positive_data_acceptance]
    return []


def run_examples(operation, headers: dict[str, str]) -> None:
    skipped = excluded(operation)

    @given(case=operation.as_strategy())
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        case.call_and_validate(headers=headers, excluded_checks=skipped)

    check()


@pytest.fixture
def served_schema(db):
    # As Django's test client does: a request's start and end must not close the test database's connection.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


def test_every_endpoint_conforms_to_its_schema(served_schema, alice, kie_sim, settings):
    settings.API_RATE_LIMIT = 100_000
    objects = make_objects(alice)  # a finished generation with its file, a conversation, …
    Workspace.objects.filter(pk=workspace_of(alice).pk).update(monthly_budget=1000)
    headers = {"Authorization": bearer(make_token(alice))["HTTP_AUTHORIZATION"]}
    operations = [result.ok() for result in served_schema.get_all_operations()]
    paths = {f"{op.method.upper()} {op.path}" for op in operations}
    assert {
        "GET /api/v1/models",
        "GET /api/v1/models/{key}",
        "POST /api/v1/estimate",
        "POST /api/v1/generations",
        "GET /api/v1/generations",
        "GET /api/v1/generations/{generation_id}",
        "GET /api/v1/generations/{generation_id}/files/{asset_id}",
        "GET /api/v1/gallery",
        "POST /api/v1/chat/messages",
        "GET /api/v1/chat/messages/{message_id}",
    } <= paths
    for operation in operations:
        run_examples(operation, headers)
    # The real objects stay reachable (the generated ids mostly miss them): one explicit case each.
    generation = objects["generation"]
    asset = objects["asset"]
    for path, params in [
        ("/api/v1/generations/{generation_id}", {"generation_id": generation.pk}),
        (
            "/api/v1/generations/{generation_id}/files/{asset_id}",
            {"generation_id": generation.pk, "asset_id": asset.pk},
        ),
    ]:
        case = served_schema[path]["GET"].Case(path_parameters=params)
        response = case.call_and_validate(headers=headers)
        assert response.status_code == 200
    assert Generation.objects.filter(workspace=workspace_of(alice)).exists()
