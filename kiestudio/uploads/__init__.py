"""Uploads: references (pictures, clips and sounds given to a model), checked by their content, and sent to Kie
as Kie's own uploads. Below both studio (which sends them with generations) and chat (which shows them to the
model), above tenancy."""
