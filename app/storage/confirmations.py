"""SQL of confirmation mails: a daily count per address, a note on the record."""

import aiosqlite


async def count_confirmation(
    conn: aiosqlite.Connection, tenant: str, address_hash: str, day: str, limit: int
) -> bool:
    """Count one more confirmation to an address today; False if over the limit."""
    # Yesterday's counts are of no use any more; they go with the first send.
    await conn.execute("DELETE FROM confirmation_counts WHERE day < ?", (day,))
    cursor = await conn.execute(
        "SELECT sent FROM confirmation_counts "
        "WHERE tenant = ? AND address_hash = ? AND day = ?",
        (tenant, address_hash, day),
    )
    row = await cursor.fetchone()
    if row is not None and row[0] >= limit:
        return False
    await conn.execute(
        "INSERT INTO confirmation_counts VALUES (?, ?, ?, 1) "
        "ON CONFLICT (tenant, address_hash, day) DO UPDATE SET sent = sent + 1",
        (tenant, address_hash, day),
    )
    return True


async def note_on_record(
    conn: aiosqlite.Connection, submission_id: str, note: str
) -> None:
    """Note on a record, in German, what became of its confirmation."""
    await conn.execute(
        "UPDATE records SET confirmation_note = ? WHERE submission_id = ?",
        (note, submission_id),
    )
