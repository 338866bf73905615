"""The external `abm.*` contracts, published by the visitor-identification platform."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class VisitedPage(BaseModel):
    """One page view of a revealed company's visitors."""

    model_config = ConfigDict(frozen=True)

    url: str = Field(min_length=1, max_length=2048)
    title: str | None = Field(default=None, max_length=500)
    visited_at: AwareDatetime


class CompanyRevealed(BaseModel):
    """`abm.company-revealed.v1`: the company behind a website visit was identified."""

    model_config = ConfigDict(frozen=True)

    domain: str = Field(min_length=1, max_length=253, description="The company's website domain.")
    name: str = Field(min_length=1, max_length=255)
    revealed_at: AwareDatetime
    industry: str | None = Field(default=None, max_length=255)
    employee_count: int | None = Field(default=None, ge=0)
    annual_revenue: float | None = Field(default=None, ge=0)
    country: str | None = Field(default=None, max_length=100)
    linkedin: str | None = Field(default=None, max_length=500)
    pages: tuple[VisitedPage, ...] = ()


class ContactEnriched(BaseModel):
    """`abm.contact-enriched.v1`: a contact was enriched with person data."""

    model_config = ConfigDict(frozen=True)

    email: str = Field(min_length=3, max_length=320)
    name: str | None = Field(default=None, max_length=255)
    first_name: str | None = Field(default=None, max_length=255)
    last_name: str | None = Field(default=None, max_length=255)
    job_title: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=100)
    company_domain: str | None = Field(default=None, max_length=253)
    enriched_at: AwareDatetime


class ScoreChanged(BaseModel):
    """`abm.score-changed.v1`: an account's engagement score moved."""

    model_config = ConfigDict(frozen=True)

    domain: str = Field(min_length=1, max_length=253)
    score: int = Field(ge=0, le=100)
    previous_score: int | None = Field(default=None, ge=0, le=100)
    changed_at: AwareDatetime
