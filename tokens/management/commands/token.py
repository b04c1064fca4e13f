"""manage.py token create|revoke|list: API tokens from the command line."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from config.errors import ApplicationError
from config.identifiers import identifier_message
from config.usernames import user_named
from tokens.accounts import service_account_get_or_create
from tokens.models import ApiToken, Scope
from tokens.selectors import agents_by_slugs, tokens_list
from tokens.services import MAX_LIFETIME, token_create, token_revoke

ACTOR = Actor.system("manage.py token")


class Command(BaseCommand):
    help = "Create, revoke or list API tokens. A new token's secret is printed once."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True)
        create = commands.add_parser("create", help="create a token and print its secret once")
        create.add_argument("--user", required=True, help="username the token acts as")
        create.add_argument(
            "--service-account",
            action="store_true",
            help="create the user as a service account (no password) when it does not exist",
        )
        create.add_argument("--name", required=True, help="what uses it, e.g. 'GitHub Actions'")
        create.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            required=True,
            choices=Scope.values,
            help="repeat for several scopes",
        )
        create.add_argument(
            "--agent",
            action="append",
            dest="agents",
            default=[],
            help="slug of an agent to bind the token to; repeat for several (default: not bound)",
        )
        create.add_argument("--days", type=int, default=90, help="lifetime in days (default 90)")
        create.add_argument(
            "--allowed-network",
            action="append",
            dest="networks",
            default=[],
            help="CIDR the token may be used from; repeat for several (default: anywhere)",
        )
        revoke = commands.add_parser("revoke", help="revoke a token by its prefix")
        revoke.add_argument("prefix")
        listing = commands.add_parser("list", help="list tokens (never their secrets)")
        listing.add_argument("--user", help="only this user's tokens")
        listing.add_argument("--active", action="store_true", help="hide revoked tokens")

    def handle(self, *args, **options):
        try:
            return getattr(self, f"_{options['command']}")(options)
        except ApplicationError as error:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.fields.items())
            raise CommandError(f"{error.message} {details}".strip()) from None

    def _user(self, username):
        user = user_named(username)
        if user is None:
            raise CommandError(f"No user {username!r}.")
        return user

    def _service_account(self, username):
        # A user of the name, in any case, is the one named; only a name nobody holds is new.
        user = user_named(username)
        if user is not None:
            self.stderr.write(f"Using the existing user {user.get_username()!r}.")
            return user
        user = service_account_get_or_create(actor=ACTOR, username=username)
        self.stderr.write(f"Created the service account {user.get_username()!r} (no password).")
        return user

    @transaction.atomic
    def _create(self, options):
        if not 1 <= options["days"] <= MAX_LIFETIME.days:
            raise CommandError(f"--days must be from 1 to {MAX_LIFETIME.days}.")
        _check_length("--name", options["name"].strip(), ApiToken, "name")
        if options["service_account"]:
            # The account is created from this text, so it must hold as a username.
            model = get_user_model()
            _check_length("--user", options["user"], model, model.USERNAME_FIELD)
            problem = identifier_message(options["user"])
            if problem:
                raise CommandError(f"--user: {problem}")
        agents, unknown = agents_by_slugs(options["agents"])
        if unknown:
            raise CommandError(f"No agent {', '.join(map(repr, unknown))}.")
        user = (
            self._service_account(options["user"])
            if options["service_account"]
            else self._user(options["user"])
        )
        token, secret = token_create(
            actor=ACTOR,
            user=user,
            name=options["name"],
            scopes=options["scopes"],
            expires_at=timezone.now() + timedelta(days=options["days"]),
            allowed_networks=options["networks"],
            agents=agents,
        )
        bound = f", bound to {', '.join(a.slug for a in agents)}" if agents else ""
        self.stderr.write(
            f"Created {token.prefix} ({token.name}) for {token.user.get_username()}, "
            f"scopes {', '.join(token.scopes)}{bound}, expires {token.expires_at:%Y-%m-%d}. "
            "The secret below is shown only now:"
        )
        self.stdout.write(secret)

    def _revoke(self, options):
        token = ApiToken.objects.filter(prefix=options["prefix"]).first()
        if token is None:
            raise CommandError(f"No token {options['prefix']!r}.")
        token = token_revoke(actor=ACTOR, token=token)
        self.stdout.write(f"Revoked {token.prefix} ({token.name}).")

    def _list(self, options):
        user = self._user(options["user"]) if options["user"] else None
        now = timezone.now()
        for token in tokens_list(user=user, include_revoked=not options["active"]):
            state = token.state(now)
            last = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            agents = ",".join(agent.slug for agent in token.agents.all()) or "unbound"
            self.stdout.write(
                f"{token.prefix}\t{state}\t{token.user.get_username()}\t{token.name}\t"
                f"{','.join(token.scopes)}\tagents {agents}\t"
                f"created {token.created_at:%Y-%m-%d %H:%M}\t"
                f"expires {token.expires_at:%Y-%m-%d}\tlast used {last}"
            )


def _check_length(option: str, value: str, model, field: str) -> None:
    """Refuse a value longer than the model field that stores it holds."""
    limit = model._meta.get_field(field).max_length
    if len(value) > limit:
        raise CommandError(f"{option} must be at most {limit} characters (got {len(value)}).")
