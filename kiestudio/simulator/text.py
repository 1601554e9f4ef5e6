"""Plausible, deterministic prose for chat replies, lyrics and titles."""

from __future__ import annotations

import random
import re

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "about",
        "from",
        "by",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "this",
        "that",
        "these",
        "those",
        "i",
        "you",
        "me",
        "my",
        "your",
        "we",
        "our",
        "can",
        "could",
        "would",
        "should",
        "please",
        "write",
        "give",
        "tell",
        "make",
        "show",
        "what",
        "how",
        "why",
        "who",
        "which",
        "do",
        "does",
        "did",
        "into",
        "over",
        "under",
        "as",
        "if",
        "then",
        "so",
        "very",
        "just",
        "some",
        "any",
        "all",
    ]
)

OPENERS = (
    "Here is a take on {topic}.",
    "Let's look at {topic} together.",
    "Good question about {topic}.",
    "Thinking about {topic}, a few ideas stand out.",
    "Sure, here is something on {topic}.",
)
SENTENCES = (
    "The strongest results usually come from a clear subject, a defined mood and one striking detail.",
    "Soft side light adds depth without flattening the colours.",
    "A limited palette keeps the composition calm and readable.",
    "Try framing the scene slightly off-centre to give it room to breathe.",
    "Small imperfections often make an image feel more alive.",
    "For motion, a slow push-in tends to read as cinematic rather than busy.",
    "Contrast between warm and cool tones can guide the eye to the focal point.",
    "If the first attempt feels generic, add a specific time of day or a texture.",
    "Describing the camera lens, such as a 35mm look, changes the perspective noticeably.",
    "Short, concrete phrases work better than long lists of adjectives.",
    "Keep the background simple so the subject carries the story.",
    "A second variation with a different aspect ratio is worth comparing.",
    "Music prompts benefit from naming a tempo, an instrument and an emotion.",
    "When editing an image, say what should stay the same as well as what should change.",
    "Consistency across a series comes from repeating the same style keywords.",
    "Natural materials like wood, linen and stone add a tactile quality.",
    "A gentle haze in the distance suggests scale and atmosphere.",
    "Negative space can be as expressive as the subject itself.",
    "Reflections and wet surfaces make night scenes glow.",
    "It helps to decide the intended audience before refining the details.",
)
CLOSERS = (
    "Let me know if you want a shorter or more playful version.",
    "I can adapt this for a different format if that helps.",
    "Happy to iterate on any part of it.",
)
THOUGHTS = (
    "The user is asking about {topic}.",
    "I should keep the answer concrete and useful.",
    "A short structure with an opening, a few points and a closing offer fits best.",
    "Nothing here needs a tool unless one was requested.",
    "I will mention composition, light and iteration.",
)
LYRIC_LINES = (
    "City lights are humming low",
    "Every step a story told",
    "Hold the moment, let it glow",
    "Running through the silver rain",
    "Echoes calling out my name",
    "Stars are drifting, soft and slow",
    "We were young and wild and free",
    "Carry me across the sea",
)


def topic_words(prompt: str, limit: int = 4) -> list[str]:
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", prompt) if w.lower() not in STOPWORDS]
    seen: list[str] = []
    for word in words:
        if word.lower() not in (s.lower() for s in seen):
            seen.append(word)
        if len(seen) >= limit:
            break
    return seen


def topic(prompt: str) -> str:
    words = topic_words(prompt)
    return " ".join(words).lower() if words else "your request"


def reply(rng: random.Random, prompt: str, words: int) -> str:
    """About ``words`` words of friendly prose about the prompt, in paragraphs, with the markdown a model would
    use when the prompt asks for it: a numbered list ("list", "steps", "ideas"), a table ("table") or a code
    block ("code", "json")."""
    subject = topic(prompt)
    parts = [rng.choice(OPENERS).format(topic=subject)]
    count = len(parts[0].split())
    pool = list(SENTENCES)
    rng.shuffle(pool)
    index = 0
    while count < words - 8:
        sentence = pool[index % len(pool)]
        index += 1
        parts.append(sentence)
        count += len(sentence.split())
    parts.append(rng.choice(CLOSERS))
    paragraphs: list[str] = []
    while parts:
        size = rng.randint(2, 4)
        paragraphs.append(" ".join(parts[:size]))
        parts = parts[size:]
    lowered = prompt.lower()
    extras: list[str] = []
    if re.search(r"\b(list|steps|ideas)\b", lowered):
        extras.append("\n".join(f"{n}. {pool[(index + n) % len(pool)]}" for n in range(1, 4)))
    if "table" in lowered:
        rows = "\n".join(f"| {n} | {pool[(index + n + 3) % len(pool)].rstrip('.')} |" for n in range(1, 4))
        extras.append(f"| # | Idea |\n|---|---|\n{rows}")
    if re.search(r"\b(code|json)\b", lowered):
        extras.append(f'```json\n{{"subject": "{subject}", "variations": 3}}\n```')
    if extras:
        paragraphs[1:1] = extras
    return _first_words("\n\n".join(paragraphs), max(words, 1) + sum(len(e.split()) for e in extras))


def _first_words(text: str, limit: int) -> str:
    """The text cut after ``limit`` words, keeping its line breaks."""
    pieces = re.split(r"(\s+)", text)
    kept, seen = [], 0
    for piece in pieces:
        if piece and not piece.isspace():
            seen += 1
            if seen > limit:
                break
        kept.append(piece)
    return "".join(kept).rstrip()


def thinking(rng: random.Random, prompt: str, words: int) -> str:
    parts = [THOUGHTS[0].format(topic=topic(prompt))]
    rest = list(THOUGHTS[1:])
    rng.shuffle(rest)
    parts.extend(rest)
    tokens = " ".join(parts).split()
    while len(tokens) < words:
        tokens += rng.choice(SENTENCES).split()
    return " ".join(tokens[: max(words, 1)])


def title(prompt: str) -> str:
    words = topic_words(prompt, 3)
    return " ".join(w.capitalize() for w in words) if words else "Untitled"


def lyrics(rng: random.Random, prompt: str) -> str:
    lines = list(LYRIC_LINES)
    rng.shuffle(lines)
    hook = title(prompt)
    return "\n".join(["[Verse]", *lines[:4], "", "[Chorus]", hook, *lines[4:6], hook])


def tokens(text: str) -> list[str]:
    """Split into word-ish tokens that concatenate back to ``text``."""
    return re.findall(r"\S+\s*|\s+", text)
