"""What demo prompts say: a small vocabulary, a few words common (search finds thousands), most rare."""

from __future__ import annotations

import random

from kiestudio.kie.catalog import ModelSpec


def _words(text: str) -> tuple[str, ...]:
    """Phrases separated by semicolons (line breaks inside a phrase are spaces)."""
    return tuple(" ".join(phrase.split()) for phrase in text.split(";") if phrase.strip())


SUBJECTS = _words(
    """
    a red fox; an astronaut; a lighthouse keeper; a vintage motorcycle; a koi pond; an old fisherman; a paper crane;
    a glass teapot; a snow leopard; a street food vendor; a hummingbird; a Victorian greenhouse; a bowl of ramen; a
    desert caravan; a jazz trio; a tiny robot; a sunflower field; a medieval castle; a skateboarder; a ballerina; a
    steam locomotive; an axolotl; a bonsai tree; a whale shark; a samurai; a retro diner; a hot air balloon; a
    mountain cabin; a chameleon; a violinist; a stack of pancakes; a street cat; a treehouse; a sailing ship; a
    vintage camera; a lemur; an ice cave; a floating island; a clockwork owl; a barista; a polar bear cub; a red
    panda; a chess grandmaster; a lantern festival; a wolf pack; a surfer; a gothic cathedral; a mushroom forest; a
    garden snail; a tea ceremony; a private detective; a sleeping dragon; a jellyfish; a vinyl record shop; a
    bicycle courier; a farmers market; a spaceship cockpit; a beekeeper; a typewriter; a pair of sneakers
    """
)
ACTIONS = ("",) * 3 + _words(
    """
    standing still; resting; dancing; reading a map; waiting for the rain to stop; drifting; glowing softly;
    running; asleep; looking out of a window; walking alone; caught mid-jump; surrounded by fireflies; covered in
    frost; made of folded paper; reflected in a puddle; half submerged
    """
)
SETTINGS = _words(
    """
    in a misty pine forest; on a rainy Tokyo street; in a sunlit kitchen; on the surface of Mars; at the edge of a
    frozen lake; in a bustling night market; inside an abandoned library; on a windswept cliff; in a Moroccan
    courtyard; under the northern lights; in a coral reef; on a Brooklyn rooftop; in a lavender field; in a snowy
    village; in a desert canyon; in a foggy harbour; inside a greenhouse; in a neon arcade; in an art deco lobby; in
    a bamboo grove; in a cozy bookshop; on a moonlit beach; in a flooded subway station; in the Scottish highlands;
    on a Venetian canal; in a 1970s living room; in an alpine meadow; at a train station at dawn; in a Martian
    greenhouse; on an empty basketball court; in a Parisian cafe; at a lighthouse on a stormy night
    """
)
STYLES = _words(
    """
    cinematic photograph; watercolor illustration; 35mm film photo; oil painting; isometric 3D render; Polaroid
    snapshot; ukiyo-e woodblock print; claymation still; low-poly render; art nouveau poster; charcoal sketch; pixel
    art; synthwave poster; editorial fashion photo; product photography; children's book illustration; double
    exposure; macro photograph; tilt-shift photo; noir film still; vaporwave collage; clean line art; gouache
    painting; hyperrealistic render; documentary photo; risograph print; stained glass window; paper cut-out art;
    infrared photograph; tapestry
    """
)
LIGHTING = _words(
    """
    golden hour light; soft window light; harsh midday light; neon light; candle light; moonlight; rim light;
    volumetric light; overcast light; dappled light; blue hour light; studio light; firelight; backlit; foggy
    morning light; dramatic side light; warm lamp light; cold fluorescent light
    """
)
RARE = ("bioluminescent", "holographic", "iridescent", "anamorphic", "chiaroscuro", "brutalist", "solarpunk")
CAMERA = _words(
    """
    Slow dolly-in; Drone shot; Handheld tracking shot; Static wide shot; Timelapse; Orbit shot; Crane shot rising;
    Extreme close-up; Whip pan; Slow motion
    """
)
EDITS = _words(
    """
    Replace the background with {setting}; Turn it into a {style}; Add {lighting}; Remove the people and keep
    {subject}; Make it look like a {style} {setting}
    """
)
MOODS = _words(
    """
    Melancholic; Upbeat; Dreamy; Dark; Playful; Epic; Calm; Nostalgic; Energetic; Tender
    """
)
GENRES = _words(
    """
    lo-fi hip hop; synthwave; bossa nova; orchestral score; indie folk; drum and bass; ambient drone; jazz ballad;
    city pop; afrobeat; chiptune; post-rock; reggaeton; baroque harpsichord piece
    """
)
INSTRUMENTS = _words(
    """
    a dusty piano; warm analog synths; nylon-string guitar; a string quartet; a muted trumpet; 808 drums; a kalimba;
    a cello solo; hand claps; a church organ; a banjo; a vibraphone
    """
)
TOPICS = _words(
    """
    how to brew the perfect pour-over coffee; the history of the lighthouse; three tips for better sleep; our new
    spring collection; what makes a great product demo; the migration of the arctic tern; a quick tour of the
    studio; why bees matter; the making of our short film; this week's release notes
    """
)
SOUNDS = _words(
    """
    Thunder rolling over distant hills; Footsteps on fresh gravel; A busy cafe with clinking cups; Rain on a tin
    roof; An old door creaking open; A spaceship engine humming; Waves crashing on rocks; A crackling campfire; Wind
    through a bamboo grove; A cat purring; A vintage typewriter; Distant sirens; A crowd cheering in a stadium; A
    magic spell whoosh; Birdsong at dawn in a forest
    """
)


def write_prompt(rng: random.Random, spec: ModelSpec) -> str:
    """A new prompt for this model's kind."""
    if spec.prompt_field is None:
        return ""
    subject, setting = rng.choice(SUBJECTS), rng.choice(SETTINGS)
    style, lighting, action = rng.choice(STYLES), rng.choice(LIGHTING), rng.choice(ACTIONS)
    rare = f"{rng.choice(RARE)} " if rng.random() < 0.01 else ""
    kind = spec.kind
    if kind == "music":
        return (
            f"{rng.choice(MOODS)} {rng.choice(GENRES)} with {rng.choice(INSTRUMENTS)}, {rng.randint(70, 160)} BPM, "
            f"for a video about {subject} {setting}"
        )
    if kind == "speech":
        return f"Welcome back to the studio. Today: {rng.choice(TOPICS)}. Stay with us until the end."
    if kind == "sound_effect":
        return f"{rng.choice(SOUNDS)}, {rng.choice(('close', 'distant', 'muffled', 'crisp', 'looping'))}"
    if kind == "image_edit":
        template = rng.choice(EDITS)
        return template.format(setting=setting, style=style, lighting=lighting, subject=subject)
    if spec.output == "video":
        return f"{rng.choice(CAMERA)} of {rare}{subject} {action} {setting}, {style}, {lighting}".replace("  ", " ")
    return f"{rare}{subject} {action} {setting}, {style}, {lighting}".replace("  ", " ").strip()
