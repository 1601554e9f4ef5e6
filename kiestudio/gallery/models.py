from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiestudio.studio.models import Generation
from kiestudio.workspaces.models import Workspace


class Favorite(models.Model):
    """A member's favourite. Each member keeps their own; the gallery's "Favourites" filter shows yours."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="favorites")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="favorites")
    created_at = models.DateTimeField(default=timezone.now)
    # The generation's own created_at (which never changes), so a member's favourites can be read newest first,
    # in the gallery's order, from this table's index alone: one page touches ~49 generations, not every
    # favourite (1,500 primary-key lookups and a sort took 23 ms at a million items; issue 18).
    generation_created_at = models.DateTimeField(editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "generation"], name="favorite_unique")]
        indexes = [
            models.Index(fields=["user", "workspace", "generation"], name="favorite_lookup"),
            models.Index(fields=["workspace", "user", "-generation_created_at", "-generation"], name="favorite_feed"),
        ]

    def save(self, *args, **kwargs) -> None:
        if self.generation_created_at is None:
            self.generation_created_at = self.generation.created_at
        super().save(*args, **kwargs)


class Collection(models.Model):
    """A board, shared with the whole workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="collections")
    name = models.CharField(max_length=80)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    items = models.ManyToManyField(Generation, through="CollectionItem", related_name="collections")
    # The picture shown for the collection; without one, its most recently added item's.
    cover = models.ForeignKey(Generation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["workspace", "name"], name="collection_by_name")]

    def __str__(self) -> str:
        return self.name


class CollectionItem(models.Model):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="memberships")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="collection_memberships")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["collection", "generation"], name="collection_item_unique")]
        indexes = [models.Index(fields=["collection", "generation"], name="collection_item_lookup")]


class Tag(models.Model):
    """A workspace-wide label ("client: Acme", "moodboard"). Its ``key`` is the name case-folded, so "Sky" and
    "sky" are one tag; the name keeps the spelling it was first given."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=40)
    key = models.CharField(max_length=40, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    items = models.ManyToManyField(Generation, through="ItemTag", related_name="tags")

    class Meta:
        ordering = ["key", "pk"]
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="tag_unique_key")]

    def __str__(self) -> str:
        return self.name


class ItemTag(models.Model):
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="links")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="tag_links")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tag", "generation"], name="item_tag_unique")]
        indexes = [models.Index(fields=["generation", "tag"], name="item_tag_by_item")]


class Rating(models.Model):
    """A member's 1–5 stars for an item. Each member rates for themselves, as with favourites; the gallery's
    rating filter reads yours."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="ratings")
    stars = models.PositiveSmallIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "generation"], name="rating_unique"),
            models.CheckConstraint(condition=models.Q(stars__gte=1, stars__lte=5), name="rating_one_to_five"),
        ]
        indexes = [models.Index(fields=["workspace", "user", "stars"], name="rating_lookup")]
