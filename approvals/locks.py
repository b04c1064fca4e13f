"""The row locks an agent's packages are changed under: the agent's row first, then the package's.

Every service that changes a package, or its agent through it, locks the
agent's row before any of its packages' rows (a suspension and a retirement
lock the agent, then its packages). Two services on one agent therefore never
each hold a row the other waits for, and a service deciding from the agent
(is it suspended? retired? which version is approved?) reads it as the last
committed change left it, not as it was before that change took the lock.

A service that decides from a person's rights (a sign-off, an emergency approval or
its request, a suspension, a retirement, a package written, submitted or narrowed, a
registration or change of an agent and the team it names, a comment, a drift finding,
a change of membership or of a reviewer's assignment, a sign-off reassigned, an
absence set or cleared, a team created, a password set, a token revoked) locks that
person's row after the agent's and, deciding about a package, the package's
(`agents.membership.user_lock`), as every change of those rights does, and before it
writes anything: no service locks a user's row and then an agent's, and none waits for
a user's row while holding the audit chain's lock (taken by its first event), which a
change of that user's rights waits for while holding the row. So the order adds no
deadlock; nor do the packages a suspension or a retirement locks after the user's row,
since whoever holds one of them holds the agent's row. A service that also locks other
users (those whose membership it changes, the holder of an object permission on an
agent assigned or revoked, a sign-off's new reviewer, an absent reviewer and their
delegate) locks them and its actor together in id order, the
actor's row once if they are one of them (`agents.membership.users_lock`), so two
people changing each other wait for one another rather than deadlock.

A decision then locks the absences naming its decider delegate
(`signoffs.absence.delegations_lock`), still before it writes anything: setting
or clearing an absence locks the absence's row alone (after its actor's row, and
the absent reviewer's and the delegate's when setting) and then writes its event, so
no service holds an absence's row while waiting for a user's row.

A token's write locks its token's row just before its first event
(`tokens.authentication.token_confirm`) and no other token's; one deciding from its
user's rights locks it earlier, once it holds the user's row
(`agents.membership.actor_user_lock`). A revocation locks its actor's row, whose staff
status it decides from, then the token's row, and a withdrawal of its user's rights (a
deactivation, a group left, staff or superuser status taken away) its user's row and
then all their tokens' rows in id order (`tokens.services.user_tokens_lock`), each
before its first event; the Django admin's save of a user takes them before its first
event (a rename's) when the form withdraws a flag or a group, though it changes the
groups last. A token is made (`token_create`) holding its user's row, and its maker's,
whose staff status it decides from, in id order. A write holding its token's row locks
no user's row after it, so a withdrawal waiting for the row while holding the user's
adds no deadlock, and the write's check reads the user's activation, staff and
superuser status and whether their groups grant the request's scope after its lock is
granted: it commits before the withdrawal's event, or reads it and is refused. Adding
rights locks no token: a write it lets through was let through before it.

The other rights a token's write may rest on need no token lock. A team left: what
a team grants (naming it for an agent registered or moved, commenting on an agent
seen through it) is decided under the user's row lock, which the team change holds
from before its first event. An agent's object permission (a reviewer's, the kill
switch's): it is assigned and revoked under the agent's row lock and then its holder's;
a kill-switch grant is withdrawn by a change that leaves its holder unable to see the
agent, after that change's event, under one of the two (the holder's for a change of
their groups, teams or flags, the agent's for a change of its team or owners:
`agents.grants`), so a revocation of the grant waits for the withdrawal rather than
holding the grant's row while it waits for the audit chain's lock. Every decision from
one (a sign-off, an emergency approval, a suspension) reads it under the agent's row lock
and its decider's, so after either. An agent's ownership: it changes under the agent's
row lock too, and a
report of the agent's observations asks whether its reporter owns the agent (or may
bind a token to it) under that lock, taking no user's row lock, which would queue one
service account's reports of all its agents behind each other. Model permissions
grant nothing here: every check asks for an object
permission, which Django's model backend never gives for an object.

Every such lock, in every app, is FOR NO KEY UPDATE (`select_for_update(no_key=True)`)
unless the row is deleted under it. PostgreSQL checks a foreign key when the row
naming it commits (Django makes them deferred), with a lock that only FOR UPDATE
blocks: a token bound to an agent, or a package's new sign-offs naming their
checklist, would wait at their commit, holding the audit chain's lock, for a
service that holds the agent's or the checklist's row FOR UPDATE and waits for the
chain's lock. tests/config/test_row_locks.py holds the product's code to the rule.
"""

from agents.models import Agent
from approvals.models import ApprovalPackage


def package_lock(package: ApprovalPackage) -> ApprovalPackage:
    """Return the package re-read under a row lock, its agent locked and re-read before it."""
    agent = Agent.objects.select_for_update(no_key=True).get(pk=package.agent_id)
    locked = ApprovalPackage.objects.select_for_update(no_key=True).get(pk=package.pk)
    locked.agent = agent
    return locked
