"""A model field that keeps its value encrypted in the database and plain in Python."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldError
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Expression, Lookup

from sizhi.privacy.crypto import decrypt, encrypt


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Stores `encrypt(value, context=...)` text; reads back the plaintext.

    The context defaults to "<app_label>.<model>.<field>" so a token copied to another column
    fails. Ciphertext is randomised, so the column cannot be filtered on: only `isnull` is
    allowed, everything else raises FieldError (look rows up through a blind-index column).
    None stays NULL and "" stays "" (an empty value is not personal data)."""

    description = "Encrypted text"

    def __init__(self, *args: Any, context: str = "", **kwargs: Any) -> None:
        self.context = context
        super().__init__(*args, **kwargs)

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only=private_only)
        if not self.context:
            self.context = f"{cls._meta.app_label}.{cls._meta.model_name}.{name}"

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        # Only a context other than the default goes into migrations; an unbound field (as in a
        # migration file being loaded) keeps whatever it was given.
        model = getattr(self, "model", None)
        default = f"{model._meta.app_label}.{model._meta.model_name}.{self.name}" if model is not None else ""
        if self.context and self.context != default:
            kwargs["context"] = self.context
        return name, path, args, kwargs

    def from_db_value(self, value: Any, expression: Expression, connection: BaseDatabaseWrapper) -> Any:
        if value is None or value == "":
            return value
        return decrypt(value, context=self.context)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value, context=self.context)

    def get_lookup(self, lookup_name: str) -> type[Lookup[Any]] | None:
        if lookup_name != "isnull":
            raise FieldError(
                f"{self.model.__name__}.{self.name} is encrypted: it cannot be filtered with "
                f"'{lookup_name}'; look it up through its blind index instead."
            )
        return super().get_lookup(lookup_name)
