"""What every bot's config has, whatever its platform; each adapter's model extends it."""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import Field

from core.config.fields import BotName, Frozen, FrozenMap, empty_map
from core.config.schema import Override
from core.config.secrets import SecretRef


class BotConfig(Frozen):
    """The keys core reads from any bot.

    A platform's model subclasses this, narrows `platform` to its own `Literal` name and the
    override keys to its id formats, and adds its own keys (tokens, access lists...).
    """

    name: BotName
    platform: str
    persona: str
    workspaces: FrozenMap[str, Override] = Field(default_factory=empty_map)
    channels: FrozenMap[str, Override] = Field(default_factory=empty_map)
    answer_bots: bool = False  # other bots' messages are ignored unless this is true
    # What a user who may not talk to the bot hears: nothing, or a short refusal.
    on_denied: Literal["silent", "refuse"] = "silent"
    # 👍/👎 buttons under each finished reply (where the platform has them).
    feedback: bool = True


# Platform name -> its bot model, e.g. {"slack": SlackBotConfig}; built by the adapters'
# side (bots.config_models) and handed to the loader, so core never names a platform.
PlatformModels = Mapping[str, type[BotConfig]]


def platform_of(model: type[BotConfig]) -> str | None:
    """The name a model's `platform: Literal[...]` field declares, or None without one."""
    annotation = model.model_fields["platform"].annotation
    if get_origin(annotation) is not Literal or len(get_args(annotation)) != 1:
        return None
    name = get_args(annotation)[0]
    return name if isinstance(name, str) else None


def bot_entry(platforms: PlatformModels) -> Any:
    """The annotation of one `bots` entry: the model its `platform` key names."""
    if not platforms:
        raise ValueError("the loader needs at least one platform model")
    for name, model in platforms.items():
        if platform_of(model) != name:
            raise ValueError(
                f"{model.__name__} is registered as platform {name!r}; "
                f"its field must read `platform: Literal[{name!r}]`"
            )
    models = tuple(platforms.values())
    if len(models) == 1:
        # A tagged union needs two members; a lone platform is checked as a plain model.
        return models[0]
    # Union[...] over a runtime tuple: `X | Y` needs the members written out.
    return Annotated[Union[models], Field(discriminator="platform")]  # noqa: UP007


def secret_keys(platforms: PlatformModels) -> frozenset[str]:
    """Keys of any platform's bot that hold a secret (a SecretRef), e.g. tokens."""
    return frozenset(
        name
        for model in platforms.values()
        for name, field in model.model_fields.items()
        if _holds_secret(field.annotation)
    )


def _holds_secret(annotation: object) -> bool:
    if annotation is SecretRef:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_holds_secret(arg) for arg in get_args(annotation))
    return False
