"""The forms people fill in (Flask-WTF: fields, validation, and the CSRF token every form carries).

The report form is the exception: a report's rules are the domain's
(``registry.validation``), so its page posts plain fields named like the
report's (``incident.country``) and ``registry.web.reports`` validates the
whole with ``validate_report``, as the API does.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from registry.services.users import MIN_PASSWORD_LENGTH
from registry.validation import MAX_IDENTIFIER_LENGTH
from registry.vocabulary import CATEGORIES, CONFIRMATION_OUTCOMES, PRIORITIES, ROLES
from registry.web.i18n import label

FIELD_LENGTH = 200


def _choices(words: tuple[str, ...], blank: str | None = None) -> list[tuple[str, str]]:
    """Choices labelled in the reader's language, computed per request."""
    first = [("", blank)] if blank is not None else []
    return first + [(word, label(word)) for word in words]


class SignInForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class CheckForm(FlaskForm):
    identifier = StringField(_l("Serial number, PIN or VIN as read"),
                             validators=[DataRequired(), Length(max=MAX_IDENTIFIER_LENGTH)])
    manufacturer = StringField(_l("Manufacturer (optional)"), validators=[Optional(), Length(max=FIELD_LENGTH)])
    category = SelectField(_l("Category (optional)"), validators=[Optional()])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.category.choices = _choices(CATEGORIES, "—")


class UploadForm(FlaskForm):
    file = FileField(_l("Inventory or manifest (CSV or Excel)"), validators=[FileRequired()])


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class StatusForm(FlaskForm):
    """Mark a report recovered (with how) or cancelled (with why); the report's rules check the details."""

    status = HiddenField(validators=[DataRequired()])
    version = HiddenField(validators=[DataRequired()])
    recovered_on = StringField(_l("Recovered on"), validators=[Optional()])
    place = StringField(_l("Place of recovery"), validators=[Optional()])
    country = StringField(_l("Country of recovery"), validators=[Optional()])
    agency = StringField(_l("Recovering agency"), validators=[Optional()])
    note = StringField(_l("Note"), validators=[Optional()])
    reason = StringField(_l("Reason for cancelling"), validators=[Optional()])

    def details(self) -> dict[str, dict[str, str]]:
        """The recovery or cancellation the marked status needs, from what was typed."""
        if self.status.data == "cancelled":
            return {"cancellation": _typed({"reason": self.reason.data})}
        return {"recovery": _typed({"date": self.recovered_on.data, "place": self.place.data,
                                    "country": self.country.data, "agency": self.agency.data, "note": self.note.data})}


def _typed(values: dict[str, str | None]) -> dict[str, str]:
    return {name: value.strip() for name, value in values.items() if value and value.strip()}


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    role = SelectField(_l("Role"), validators=[DataRequired()])
    agency = StringField(_l("Agency (agency accounts only)"), validators=[Optional(), Length(max=FIELD_LENGTH)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = _choices(ROLES)


class PasswordForm(FlaskForm):
    password = PasswordField(_l("New password"),
                             validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)])


class KeyForm(FlaskForm):
    role = SelectField(_l("Role"), validators=[DataRequired()])
    agency = StringField(_l("Agency (agency keys only)"), validators=[Optional(), Length(max=FIELD_LENGTH)])
    label = StringField(_l("Label"), validators=[Optional(), Length(max=FIELD_LENGTH)])
    expires = StringField(_l("Expires (date, optional)"), validators=[Optional(), Length(max=40)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = _choices(ROLES)


class ConfirmationForm(FlaskForm):
    """Ask the agency owning a matched report to confirm it (from the check's answer)."""

    report_id = HiddenField(validators=[Optional()])
    external_ref = HiddenField(validators=[Optional()])  # what a dealer's answer names a report by
    priority = SelectField(_l("Priority"), validators=[DataRequired()])
    location = StringField(_l("Where the item is"), validators=[DataRequired(), Length(max=500)])
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=2000)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.priority.choices = _choices(PRIORITIES)


class AnswerForm(FlaskForm):
    outcome = SelectField(_l("Answer"), validators=[DataRequired()])
    reason = StringField(_l("Reason (needed when not confirmed)"), validators=[Optional(), Length(max=2000)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.outcome.choices = _choices(CONFIRMATION_OUTCOMES)
