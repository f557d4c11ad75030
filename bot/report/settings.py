"""The `report` section of the bot's configuration."""

from pydantic import BaseModel, ConfigDict, Field


class ReportSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cost_per_ticket: float = Field(
        default=0.0,
        ge=0,
        description=(
            "What one helpdesk ticket for a password reset or an unlock costs you. The "
            "report multiplies the resets and unlocks people did themselves by it (tickets "
            "saved). 0: the report counts the tickets and names no amount."
        ),
    )
    currency: str = Field(
        default="USD",
        min_length=1,
        max_length=12,
        description="The label shown after amounts (USD, EUR, CHF...); nothing is converted.",
    )
