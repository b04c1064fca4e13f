"""What the runtime decision point keeps in the database: which usage counts were flushed."""

from django.db import models


class UsageFlush(models.Model):
    """One minute's usage counts, taken from Redis and added to observations.

    Written in the transaction that adds the counts, so a flush that stopped
    after committing is never added twice (runtime/usage.py).
    """

    key = models.CharField(max_length=100, unique=True)
    minute = models.DateTimeField(db_index=True)
    evaluations = models.BigIntegerField()
    denies = models.BigIntegerField()
    flushed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.key
