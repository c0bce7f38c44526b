"""Which secret values a plan reads, and reading them.

Every secret of an enabled config is read: the plan compares it with the store and the key
check needs it; one that cannot be resolved stops the run. A disabled config's secrets are read
only when the plan needs them (``unresolved.slots_to_read``): when the store cannot vouch for a
value (the config is new, a reference is new or changed, the store has no fingerprint) the plan
tries to read it so that the stored fingerprint is right, and when encryption at rest must seal
it (the config is written) it has to. A value the plan tried and could not read for a disabled
config, and need not seal, does not stop the run (nor does a Vault that cannot be used at all,
when no value the run must have is in it): the config is stored without that fingerprint, the
plan says why, and the first plan that reads it records it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..console import printable
from ..core.problems import Problem
from ..core.resources import config_resource, secret_slots
from ..core.unresolved import slots_to_read
from ..desired.model import Config, SecretRef, VaultRef
from ..errors import LlmformError
from ..targets.base import StoreState
from .base import Resolution, Resolver, SecretProblem, SecretValue, fingerprint
from .redaction import redact


class SecretsError(LlmformError):
    """Some references could not be resolved; every one is listed, never a value, in the
    message and in ``problems`` (each at the first config that uses it)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("cannot resolve secrets:", *(f"  {p.message}" for p in self.problems))


@dataclass(frozen=True)
class ResolvedSecrets:
    """The values of a run's references and their keyed fingerprints. Held in memory only.
    ``notes``: why a disabled config's value the plan tried to read was left unread."""

    values: Mapping[SecretRef, SecretValue]
    fingerprints: Mapping[SecretRef, str]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reading:
    """What to read of one config: its slots, and whether a value that cannot be resolved
    stops the run (``required``) or is left unread (a disabled config's, not to be sealed)."""

    slots: Mapping[str, SecretRef]
    required: bool = True


# A config -> what to read of it.
ReadingRule = Callable[[Config], Reading]


def read_everything(config: Config) -> Reading:
    return Reading(secret_slots(config))


def reading_rule(
    configs: Sequence[Config], read_store: Callable[[], StoreState], *, encrypted: bool
) -> ReadingRule:
    """The rule of this module's docstring for ``configs`` against the store ``read_store``
    reads; ``encrypted``: the store is to keep values sealed. The store is read only when a
    disabled config has secrets."""
    if all(c.enabled or not secret_slots(c) for c in configs):
        return read_everything
    current = read_store()

    def reading(config: Config) -> Reading:
        slots = secret_slots(config)
        if config.enabled:
            return Reading(slots)
        if not slots or config.address in current.unmanaged:
            return Reading({})  # an unmanaged config is never written
        resource = config_resource(config, {}, encrypted=encrypted)
        stored = current.resources.get(config.address)
        wanted, sealed = slots_to_read(resource, stored, encrypted=encrypted)
        return Reading({slot: slots[slot] for slot in wanted}, required=sealed)

    return reading


def resolve_secrets(
    configs: Iterable[Config],
    resolver: Resolver,
    key: bytes,
    rule: ReadingRule = read_everything,
) -> ResolvedSecrets:
    """Resolve and fingerprint what ``rule`` picks of ``configs``, each distinct reference
    once; every required reference that fails is reported together, never a value."""
    configs = list(configs)
    refs: dict[SecretRef, None] = {}  # in the order first used
    required: set[SecretRef] = set()
    for config in configs:
        if rule is read_everything:  # every slot, required: no Reading made per config
            refs.update(dict.fromkeys(config.keys))
            refs.update(dict.fromkeys(config.secret_options.values()))
            continue
        reading = rule(config)
        refs.update(dict.fromkeys(reading.slots.values()))
        if reading.required:
            required.update(reading.slots.values())
    if rule is read_everything:
        required = set(refs)
    if not refs:
        return ResolvedSecrets({}, {})
    resolution = _resolve(resolver, refs, required)
    problems = resolution.problems
    users = _users(configs, rule, {p.ref for p in problems}) if problems else {}

    def described(problem: SecretProblem) -> str:
        where = ", ".join(f"{c.address} {slot}" for c, slot in users.get(problem.ref, []))
        # one line: a message may quote what a server said (a Vault key's name)
        return printable(f"{problem.ref}: {problem.message}") + f" (used by {where})"

    def located(problem: SecretProblem) -> Problem:
        user = users[problem.ref][0][0] if problem.ref in users else None
        if user is None:
            return Problem(described(problem))
        loc = user.location
        return Problem(described(problem), loc.file, loc.line, loc.column, address=user.address)

    failed = [located(p) for p in problems if p.ref in required]
    if failed:
        raise SecretsError(sorted(failed, key=lambda p: p.message))
    notes = tuple(
        f"not read, so stored without a fingerprint until a plan reads it: {described(p)}"
        for p in sorted(problems, key=lambda p: str(p.ref))
    )
    values = dict(resolution.values)
    fingerprints = {ref: fingerprint(key, v) for ref, v in values.items()}
    return ResolvedSecrets(values, fingerprints, notes)


def _users(
    configs: list[Config], rule: ReadingRule, refs: set[SecretRef]
) -> dict[SecretRef, list[tuple[Config, str]]]:
    """Which configs' slots use each of ``refs``, for what a problem says: found only when
    there is one, since at 100,000 configs naming every user costs a tenth of a plan."""
    users: dict[SecretRef, list[tuple[Config, str]]] = {}
    for config in configs:
        for slot, ref in rule(config).slots.items():
            if ref in refs:
                users.setdefault(ref, []).append((config, slot))
    return users


def _resolve(
    resolver: Resolver, refs: Mapping[SecretRef, object], required: set[SecretRef]
) -> Resolution:
    """Every reference of ``refs`` in one batch (one Vault login). A batch can fail as a whole
    (Vault not set up, unreachable, refusing the login): then the references not required are
    reported as unread with that reason, like a single missing secret, and the required ones
    are resolved on their own; if those include a Vault reference, the failure stops the run
    (asking Vault again would only fail again, slowly)."""
    try:
        return resolver.resolve(refs)
    except LlmformError as exc:
        optional = [ref for ref in refs if ref not in required]
        if not optional or any(isinstance(ref, VaultRef) for ref in required):
            raise
        needed = resolver.resolve([ref for ref in refs if ref in required]) if required else None
        reason = " ".join(redact(str(exc)).split())
        unread = tuple(SecretProblem(ref, reason) for ref in optional)
        if needed is None:
            return Resolution({}, unread)
        return Resolution(needed.values, (*needed.problems, *unread))
