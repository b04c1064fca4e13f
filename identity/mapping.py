"""What the provider's groups grant here: role groups, staff and team memberships.

The mapping (settings.OIDC_GROUP_MAP) pairs a provider group with a target:
a role group of config/roles.py, `staff`, or `team:<slug>`. It is applied at
every OIDC sign-in and renewal: the provider then decides every role group and
staff of its users, and the membership of every team the mapping names.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_slug

from config.roles import Group

STAFF = "staff"
TEAM_PREFIX = "team:"


@dataclass(frozen=True)
class Rights:
    """What a user holds by the mapping: role group names, staff, team slugs."""

    groups: frozenset[str] = frozenset()
    staff: bool = False
    teams: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GroupMap:
    targets: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def teams(self) -> frozenset[str]:
        """Return the slugs of the teams the mapping names: the provider decides their members."""
        return frozenset(
            target.removeprefix(TEAM_PREFIX)
            for targets in self.targets.values()
            for target in targets
            if target.startswith(TEAM_PREFIX)
        )

    def rights(self, provider_groups) -> Rights:
        targets = set().union(*(self.targets.get(name, ()) for name in provider_groups))
        return Rights(
            groups=frozenset(target for target in targets if target in Group.values),
            staff=STAFF in targets,
            teams=frozenset(
                target.removeprefix(TEAM_PREFIX)
                for target in targets
                if target.startswith(TEAM_PREFIX)
            ),
        )


def group_map_parse(text: str) -> GroupMap:
    """Return the mapping written as "provider-group=target, ...", or raise naming each bad pair.

    An empty text maps each role group to the provider group of the same name.
    """
    if not text.strip():
        return GroupMap({name: frozenset({name}) for name in Group.values})
    targets: dict[str, set[str]] = {}
    problems = []
    for pair in text.split(","):
        if not pair.strip():
            continue
        name, equals, target = (part.strip() for part in pair.partition("="))
        if not equals or not name or not target:
            problems.append(f"{pair.strip()!r} is not provider-group=target")
        elif not _target_valid(target):
            problems.append(
                f"{target!r} is not a role group ({', '.join(Group.values)}), "
                f"{STAFF} or {TEAM_PREFIX}<slug>"
            )
        else:
            targets.setdefault(name, set()).add(target)
    if problems:
        raise ImproperlyConfigured("OIDC_GROUP_MAP: " + "; ".join(problems) + ".")
    return GroupMap({name: frozenset(values) for name, values in targets.items()})


def _target_valid(target: str) -> bool:
    if target in Group.values or target == STAFF:
        return True
    if not target.startswith(TEAM_PREFIX):
        return False
    try:
        validate_slug(target.removeprefix(TEAM_PREFIX))
    except ValidationError:
        return False
    return True


def group_map() -> GroupMap:
    return group_map_parse(settings.OIDC_GROUP_MAP)


def provider_groups(claims: dict) -> list[str]:
    """Return the group names in the claims' groups claim: a list, or one space-separated string."""
    value = claims.get(settings.OIDC_GROUPS_CLAIM)
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(item) for item in value]
    return []
