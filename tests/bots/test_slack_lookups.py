"""The Slack adapter's pure helpers: mention stripping and what a file share says."""

from __future__ import annotations

import dataclasses

import pytest

from bots.slack.lookups import BotIdentity, attachments_of, without_mention
from core.types import Attachment

BOT = "U0BOT"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@U0BOT> hello", "hello"),
        ("<@U0BOT>: hello", "hello"),
        ("<@U0BOT>, hello", "hello"),
        ("<@U0BOT|parley> hello", "hello"),  # the legacy form with a display name
        ("hey <@U0BOT> what now?", "hey what now?"),
        ("<@U0BOT><@U0BOT> twice", "twice"),
        ("  <@U0BOT>  ", ""),
        ("ask <@U0ALICE> instead", "ask <@U0ALICE> instead"),  # other people stay
        ("<@U0BOTX> a longer id", "<@U0BOTX> a longer id"),  # not a prefix match
        ("no mention at all", "no mention at all"),
    ],
)
def test_only_the_bots_own_mention_is_removed(text: str, expected: str) -> None:
    assert without_mention(text, BOT) == expected


def test_an_id_with_regex_characters_is_taken_literally() -> None:
    assert without_mention("<@U.+> hi <@Ux>", "U.+") == "hi <@Ux>"


def test_an_event_without_files_has_no_attachments() -> None:
    assert attachments_of({}) == ()
    assert attachments_of({"files": None}) == ()
    assert attachments_of({"files": []}) == ()


def test_a_file_share_gives_name_type_size_and_the_private_download_url() -> None:
    event = {
        "files": [
            {
                "id": "F1",
                "name": "notes.txt",
                "title": "My notes",
                "mimetype": "text/plain",
                "size": 42,
                "url_private": "https://files.example/view",
                "url_private_download": "https://files.example/download",
            }
        ]
    }
    (found,) = attachments_of(event)
    assert found == Attachment(
        "notes.txt", "text/plain", 42, None, "https://files.example/download"
    )


def test_missing_fields_fall_back_one_by_one() -> None:
    event = {
        "files": [
            {"title": "Titled", "url_private": "https://files.example/view", "size": "big"},
            {"id": "F2"},
            {},
        ]
    }
    titled, by_id, bare = attachments_of(event)
    assert (titled.filename, titled.size, titled.ref) == ("Titled", 0, "https://files.example/view")
    assert titled.media_type == "application/octet-stream"
    assert (by_id.filename, by_id.ref) == ("F2", "")
    assert bare.filename == "file"
    assert all(a.data is None for a in (titled, by_id, bare))  # read later, on core's request


def test_a_malformed_entry_is_skipped_not_the_whole_message() -> None:
    event = {"files": ["not a dict", None, {"name": "kept.png", "mimetype": "image/png"}]}
    assert [a.filename for a in attachments_of(event)] == ["kept.png"]


def test_the_bot_identity_is_a_frozen_value() -> None:
    me = BotIdentity(user_id="U0BOT", bot_id="B0BOT")
    assert me == BotIdentity("U0BOT", "B0BOT")
    with pytest.raises(dataclasses.FrozenInstanceError):
        me.user_id = "U0OTHER"  # type: ignore[misc]  # the point: it cannot be changed
