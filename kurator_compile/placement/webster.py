"""The Webster / Sainte-Laguë dispenser of Karmada >= v1.16 (`helper/webstermethod.go`).

Seat after seat goes to the party with the highest priority `votes / (2*seats + 1)`, compared
as float64 exactly as Go does; ties go to the party with fewer seats, then to the smaller name
(the larger one when the FNV-1a-32 hash of the resource UID is odd).

Each party's priorities only fall as it wins seats, so the seats handed out after N rounds are
exactly the N best (priority, seats, name) keys over all parties. That lets us jump: pick a
priority threshold, give every party all its seats above it in one step (a count per party),
and finish the last few seats with a heap. The threshold is chosen so at most N seats lie above
it and at most about one per party is left for the heap; the result is identical to the
one-seat-at-a-time loop, in O(parties * log) time independent of N.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping

__all__ = ["allocate_webster_seats", "dispense", "fnv1a32", "names_descending"]


def fnv1a32(data: bytes) -> int:
    """32-bit FNV-1a, as Go's hash/fnv New32a."""
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


# byte -> its lowest bit, for `names_descending`
_LOW_BIT = bytes(byte & 1 for byte in range(256))


def names_descending(uid: str) -> bool:
    """`tieBreakerByUID`: an odd FNV-1a hash of the UID makes larger names win ties.

    Only the hash's lowest bit matters, and FNV-1a's is the offset basis's (1) flipped by
    each odd byte (the prime is odd): so the hash is odd when the UID has an even number of
    odd bytes. Counted in C, this is ten times faster than hashing (once per object).
    """
    if not uid:
        return False
    data = uid.encode()
    return (len(data) - data.translate(_LOW_BIT).count(0)) % 2 == 0


def _priority(votes: float, seats: int) -> float:
    return votes / float(2 * seats + 1)


def _seats_above(votes: float, threshold: float, cap: int) -> int:
    """How many seat indexes s >= 0 have priority(votes, s) > threshold (it falls with s),
    counting no further than `cap`."""
    if votes <= threshold:
        return 0
    # Exact arithmetic says s < (votes/threshold - 1) / 2; float rounding can move the edge
    # by one either way, so settle it with the same float comparison the heap will use.
    ratio = (votes / threshold - 1) / 2
    count = cap if ratio >= cap else max(0, math.ceil(ratio))
    while count > 0 and not _priority(votes, count - 1) > threshold:
        count -= 1
    while count < cap and _priority(votes, count) > threshold:
        count += 1
    return count


def _jump(new_seats: int, votes: list[float], seats: list[int]) -> list[int]:
    """Seats won per party above a threshold chosen so their total is in [N - parties, N]."""
    parties = len(votes)
    total_votes = math.fsum(votes)
    low, high = 0.0, max(_priority(v, s) for v, s in zip(votes, seats, strict=True))
    guess = total_votes / max(1.0, 2.0 * (new_seats + sum(seats)) - parties)
    best = [0] * parties
    threshold = min(max(guess, 0.0), high) or high / 2
    cap = new_seats + max(seats) + 1
    for _ in range(200):
        won = [
            max(0, _seats_above(v, threshold, cap) - s) for v, s in zip(votes, seats, strict=True)
        ]
        total = sum(won)
        if total > new_seats:
            low = threshold
        else:
            best = won
            if total >= new_seats - parties:
                break
            high = threshold
        if high - low <= high * 1e-15:
            break
        threshold = math.sqrt(low * high) if low > 0 else high / 2
    return best


def allocate_webster_seats(
    new_seats: int,
    votes: Mapping[str, int],
    initial: Mapping[str, int] | None = None,
    descending: bool = False,
) -> dict[str, int]:
    """`AllocateWebsterSeats`: every party (voters and initially seated) -> seats, by name.

    Parties only in `initial` have 0 votes and never win a seat; no parties -> {}.
    """
    if initial:
        names = sorted(set(votes) | set(initial))
        weight = [float(votes.get(n, 0)) for n in names]
        seats = [initial.get(n, 0) for n in names]
    else:  # the scheduler's case: no one seated yet
        names = sorted(votes)
        weight = [float(votes[n]) for n in names]
        seats = [0] * len(names)
    if not names:
        return {}
    if new_seats > 0 and any(w > 0 for w in weight):
        remaining = new_seats
        if new_seats > 4 * len(names):
            won = _jump(new_seats, weight, seats)
            seats = [s + w for s, w in zip(seats, won, strict=True)]
            remaining -= sum(won)
        # Heap keys sort best-first: higher priority, then fewer seats, then name order.
        # The priority is `_priority` inlined (float / int divides as float / float(int)).
        sign = -1 if descending else 1
        heap = [(-_priority(weight[i], seats[i]), seats[i], sign * i) for i in range(len(names))]
        heapq.heapify(heap)
        replace = heapq.heapreplace
        for _ in range(remaining):
            _, count, rank = heap[0]
            i = rank * sign
            count += 1
            seats[i] = count
            replace(heap, (-(weight[i] / (2 * count + 1)), count, rank))
    return dict(zip(names, seats, strict=True))


def dispense(
    new_replicas: int,
    weights: Mapping[str, int],
    initial: Mapping[str, int] | None = None,
    *,
    descending: bool = False,
) -> dict[str, int]:
    """`Dispenser.AllocateByWeight`: as Webster, but a finished or weightless dispenser
    returns its initial assignment untouched. `descending` comes from `names_descending`."""
    start = dict(initial or {})
    if (new_replicas == 0 and start) or sum(weights.values()) == 0:
        return dict(sorted(start.items()))
    return allocate_webster_seats(new_replicas, weights, start, descending)
