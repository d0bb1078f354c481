"""What can be told: the topics people choose between, and each kind's text.

Texts are Danish source text with {named} values, translated into the reader's language when
shown (the inbox) or when written (a mail, in the recipient's chosen language). Values are
titles and names people typed, numbers and codes; never a CPR number or a row of data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marketplace import languages
from marketplace.cpr import CPR_IN_TEXT
from marketplace.languages import N_

LANGUAGES = ("da", "en")
MAX_VALUE = 200

COMPANY = frozenset({"company_member"})
REVIEWERS = frozenset({"holder_admin", "reviewer"})
HOSTS = frozenset({"host_member", "holder_admin"})
GROWTH = frozenset({"company_member", "holder_admin", "host_member", "secretariat",
                    "steering_group"})


@dataclass(frozen=True)
class Topic:
    """A subject a person can switch on or off, for the inbox and for mail separately."""

    key: str
    label: str
    roles: frozenset[str]


TOPICS: tuple[Topic, ...] = (
    Topic("application_decided", N_("Afgørelser om vores ansøgninger"), COMPANY),
    Topic("review_assigned", N_("Nye ansøgninger til behandling"), REVIEWERS),
    Topic("review_deadline", N_("Påmindelse, når en behandlingsfrist nærmer sig"), REVIEWERS),
    Topic("job_finished", N_("Kørsler og udtræk, der er færdige"), COMPANY),
    Topic("output_decided", N_("Resultater, der er frigivet eller sendt tilbage"), COMPANY),
    Topic("course_proposed", N_("Forslag om testforløb i vores testmiljøer"), HOSTS),
    Topic("course_answered", N_("Svar på vores forslag om testforløb"), COMPANY),
    Topic("gate_decided", N_("Beslutninger ved portene i vækstpipelinen"), GROWTH),
)
TOPIC_KEYS = tuple(topic.key for topic in TOPICS)


@dataclass(frozen=True)
class Kind:
    key: str
    topic: str
    subject: str
    body: str


KINDS: dict[str, Kind] = {kind.key: kind for kind in (
    Kind("application_decided", "application_decided",
         N_("Afgørelse om ansøgningen »{title}«: {outcome}"),
         N_("Ansøgningen »{title}« er {outcome}. Se afgørelsen og begrundelsen på "
         "markedspladsen.")),
    Kind("review_assigned", "review_assigned",
         N_("Ny ansøgning til behandling: »{title}«"),
         N_("Ansøgningen »{title}« venter på jeres behandling. Fristen er {due}.")),
    Kind("review_deadline", "review_deadline",
         N_("Fristen nærmer sig for ansøgningen »{title}«"),
         N_("Behandlingen af ansøgningen »{title}« skal være afsluttet senest {due}. "
         "Arbejdsdage tilbage: {days}.")),
    Kind("job_finished", "job_finished",
         N_("Kørslen »{name}« er {status}"),
         N_("Kørslen »{name}« i det sikre analysemiljø er {status}. Se loggen og resultaterne "
         "på markedspladsen.")),
    Kind("extract_finished", "job_finished",
         N_("Udtræk nr. {extract} er {status}"),
         N_("Udtræk nr. {extract} er {status}. Se det på markedspladsen.")),
    Kind("output_released", "output_decided",
         N_("Et resultat af kørslen »{name}« er frigivet"),
         N_("Outputkontrollen har frigivet et resultat af kørslen »{name}«. Det kan nu hentes på "
         "markedspladsen.")),
    Kind("output_returned", "output_decided",
         N_("Et resultat af kørslen »{name}« er {decision}"),
         N_("Et resultat af kørslen »{name}« er {decision} af outputkontrollen. Se kommentaren "
         "på markedspladsen.")),
    Kind("course_proposed", "course_proposed",
         N_("Nyt forslag om testforløb: »{title}«"),
         N_("En virksomhed foreslår testforløbet »{title}« i jeres testmiljø. Tag stilling til "
         "forslaget på markedspladsen.")),
    Kind("course_answered", "course_answered",
         N_("Svar på forslaget om testforløbet »{title}«: {answer}"),
         N_("Værten har svaret på forslaget om testforløbet »{title}«: {answer}.")),
    Kind("gate_decided", "gate_decided",
         N_("Beslutning ved porten for »{title}«: {decision}"),
         N_("Der er truffet beslutning ved porten for vækstmuligheden »{title}«: {decision}. "
         "Den står nu i fasen »{stage}«.")),
)}

# Codes a caller passes, and the Danish words shown for them (translated like other text).
VALUE_LABELS: dict[str, dict[str, str]] = {
    "outcome": {"permitted": N_("godkendt"), "denied": N_("afslået"), "rejected": N_("afvist"),
                "changes_requested": N_("sendt tilbage med ønske om ændringer")},
    "status": {"succeeded": N_("færdig"), "failed": N_("fejlet"), "cancelled": N_("stoppet")},
    "decision": {"go": N_("godkendt til næste fase"), "kill": N_("stoppet"),
                 "hold": N_("parkeret"),
                 "recycle": N_("sendt tilbage"), "rejected": N_("afvist"),
                 "changes_requested": N_("sendt tilbage med ønske om ændringer")},
    "answer": {"agreed": N_("aftalt"), "declined": N_("afslået")},
    "stage": {"bobler": N_("Bobler"), "identifikation": N_("Identifikation"),
              "kvalificering": N_("Kvalificering"), "koncept_og_plan": N_("Koncept og plan"),
              "eksekvering": N_("Eksekvering"), "parkeret": N_("Parkeret"),
              "stoppet": N_("Stoppet")},
}


def clean_params(params: dict[str, Any]) -> dict[str, str]:
    """Params as short strings with anything CPR-like blanked: titles are typed by people."""
    return {name: CPR_IN_TEXT.sub("[cpr]", str(value))[:MAX_VALUE]
            for name, value in params.items()}


def _values(params: dict[str, str], language: str) -> dict[str, str]:
    shown = {}
    for name, value in params.items():
        label = VALUE_LABELS.get(name, {}).get(value)
        shown[name] = languages.translate(label, language) if label else value
    return shown


def render(kind_key: str, params: dict[str, str], language: str) -> tuple[str, str]:
    """The subject and body of one notification in `language`."""
    kind = KINDS[kind_key]
    values = _values(params, language)
    return (languages.translate(kind.subject, language, **values),
            languages.translate(kind.body, language, **values))


def topic_of(kind_key: str) -> str:
    return KINDS[kind_key].topic
