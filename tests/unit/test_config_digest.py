"""config_digest: the digest a cold plan makes of each config without making its resource is
``resource_digest(config_resource(...))`` exactly, for every kind of config (the store keeps the
latter: a different text would make every unchanged config look changed, or worse)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from llmform.core.resources import config_digest, config_resource, known_digest, resource_digest
from llmform.desired.model import Config, EnvRef, Model, SecretRef, VaultRef

# Text with what JSON escapes (quotes, backslashes, control characters) and what it does not
# (non-ASCII, astral characters).
TEXT = st.text(
    st.sampled_from(["a", "Z", "0", "-", '"', "\\", "\n", "\x01", "é", "\u2028", "😀", "/", " "]),
    max_size=6,
)
REFS: st.SearchStrategy[SecretRef] = st.one_of(
    st.builds(EnvRef, TEXT),
    st.builds(
        VaultRef,
        TEXT,
        TEXT,
        st.none() | st.integers(min_value=1, max_value=9),
        st.none() | TEXT,
    ),
)
MODELS = st.builds(
    Model,
    name=TEXT,
    types=st.lists(st.sampled_from(["chat", "embedding", "tts"]), min_size=1, max_size=2).map(
        tuple
    ),
    max_tokens=st.none() | st.integers(min_value=0, max_value=2**63 - 1),
    tools=st.booleans(),
    custom=st.booleans(),
)
OPTION_VALUES = st.one_of(TEXT, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))


@st.composite
def configs(draw: st.DrawFn) -> Config:
    models = draw(st.lists(MODELS, max_size=3, unique_by=lambda m: m.name))
    return Config(
        workspace=draw(TEXT),
        name=draw(TEXT),
        factory=draw(TEXT),
        api_base=draw(st.none() | TEXT),
        api_key=draw(st.none() | REFS),
        backup_keys=tuple(draw(st.lists(REFS, max_size=12))),
        models=tuple(models),
        enabled=draw(st.booleans()),
        description=draw(TEXT),
        options=draw(st.dictionaries(TEXT, OPTION_VALUES, max_size=3)),
        secret_options=draw(
            st.dictionaries(st.sampled_from(["api_secret", "aws_secret", "a"]), REFS, max_size=2)
        ),
        protect=draw(st.booleans()),
    )


@settings(max_examples=200, deadline=None)
@given(config=configs(), data=st.data(), encrypted=st.booleans())
def test_config_digest_is_the_resource_digest(
    config: Config, data: st.DataObject, encrypted: bool
) -> None:
    refs = [*config.keys, *config.secret_options.values()]
    # some or all of the references read (a --no-resolve run reads none); a fingerprint is an
    # HMAC's hex digest, never empty
    fingerprints = {
        ref: data.draw(TEXT.filter(bool), label="fingerprint")
        for ref in refs
        if data.draw(st.booleans(), label="read")
    }
    resource = config_resource(config, fingerprints, encrypted=encrypted)
    expected = resource_digest(resource)
    digest, known = config_digest(config, fingerprints, encrypted=encrypted)
    assert digest == expected
    assert known == known_digest(resource, expected)
