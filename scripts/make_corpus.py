"""Write core/corpus/en-fr.tsv: the playground's own English-French corpus.

Every pair comes from a small hand-written grammar, so the corpus is free of
third-party licences and its French is correct by construction:

* Lexicon - subjects (pronouns, names, noun phrases) carry person, gender and
  number; adjectives carry their four French forms; nouns their gender and
  plural; verbs their present-tense table and past participle.
* French morphology - conjugation, ne ... pas, inversion questions (with the
  euphonic -t-), passé composé with avoir and être (with participle agreement),
  possessives that agree with the possessed noun, and a final pass that applies
  elision (j'ai, l'homme, n'est) and contraction (au, du, aux, des).
* Frames - one function per sentence pattern ("X is ADJ", "X likes N", "X left",
  "where is N ?", imperatives, ...). Each yields (english, french) token lists.

English is written the way the d2l.ai book preprocesses Tatoeba: lowercase,
contractions kept (i'm, isn't), punctuation split off by a space.

Ambiguity rules, so that each English sentence has exactly one right French:
"you" is always the singular "tu"; "they"/"them" are always masculine
(ils, les ... vus); "i", "you" and "we" only take gender-free French
(calme, en retard, j'ai faim), never "fatigué(e)".

Deterministic: no randomness. Large frames are thinned by a CRC32 of the English
sentence, which is stable across Python versions. Run from the repository root:

    python scripts/make_corpus.py
"""
from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "core" / "corpus" / "en-fr.tsv"
MAX_EN, MAX_FR = 8, 9          # tokens incl. punctuation; the model has num_steps=10 with <eos>
BOOK_PAIRS = [("go .", "va !"), ("i lost .", "j'ai perdu ."),
              ("he's calm .", "il est calme ."), ("i'm home .", "je suis chez moi .")]

Pair = tuple[str, str]
PERSONS = ("1s", "2s", "3s", "1p", "3p")   # French conjugation slots; "vous" is never used


# --------------------------------------------------------------------------- French morphology

VOWELS = set("aeiouéèêëàâîïôûœ")
H_ASPIRE = {"hockey", "huit", "haut", "honte", "hâte", "héros", "hibou"}  # no elision before these
ELIDABLE = {"je", "me", "te", "se", "le", "la", "ne", "de", "ce", "que"}
CONTRACT = {("à", "le"): "au", ("à", "les"): "aux", ("de", "le"): "du", ("de", "les"): "des"}


def starts_with_vowel(word: str) -> bool:
    return word[0] in VOWELS or (word[0] == "h" and word.split("-")[0] not in H_ASPIRE)


def elide(tokens: list[str]) -> list[str]:
    """je ai -> j'ai, le homme -> l'homme, ne est -> n'est (right to left, so chains work)."""
    out: list[str] = []
    for tok in reversed(tokens):
        if out and tok in ELIDABLE and starts_with_vowel(out[-1]):
            out[-1] = tok[:-1] + "'" + out[-1]
        else:
            out.append(tok)
    return out[::-1]


def contract(tokens: list[str]) -> list[str]:
    """à le -> au, de les -> des. Runs after elide, so 'à l'école' is left alone."""
    out: list[str] = []
    for tok in tokens:
        if out and (out[-1], tok) in CONTRACT:
            out[-1] = CONTRACT[(out[-1], tok)]
        else:
            out.append(tok)
    return out


def fr_text(tokens: list[str]) -> str:
    return " ".join(contract(elide(" ".join(tokens).split())))


def en_text(tokens: list[str]) -> str:
    return " ".join(" ".join(tokens).split())


def er_verb(infinitive: str) -> dict[str, str]:
    """Present tense of a regular -er verb; manger -> mangeons keeps the soft g."""
    stem = infinitive[:-2]
    nous = stem + ("e" if stem.endswith("g") else "") + "ons"
    return dict(zip(PERSONS, [stem + "e", stem + "es", stem + "e", nous, stem + "ent"]))


def table(forms: str) -> dict[str, str]:
    return dict(zip(PERSONS, forms.split()))


V = {  # present tense, slots 1s 2s 3s 1p 3p
    "être": table("suis es est sommes sont"),
    "avoir": table("ai as a avons ont"),
    "aller": table("vais vas va allons vont"),
    "vouloir": table("veux veux veut voulons veulent"),
    "savoir": table("sais sais sait savons savent"),
    "devoir": table("dois dois doit devons doivent"),
    "voir": table("vois vois voit voyons voient"),
    "connaître": table("connais connais connaît connaissons connaissent"),
    "boire": table("bois bois boit buvons boivent"),
    "entendre": table("entends entends entend entendons entendent"),
    "attendre": table("attends attends attend attendons attendent"),
    "croire": table("crois crois croit croyons croient"),
    "comprendre": table("comprends comprends comprend comprenons comprennent"),
    "apprendre": table("apprends apprends apprend apprenons apprennent"),
    "prendre": table("prends prends prend prenons prennent"),
    "lire": table("lis lis lit lisons lisent"),
    "écrire": table("écris écris écrit écrivons écrivent"),
    "faire": table("fais fais fait faisons font"),
    "dormir": table("dors dors dort dormons dorment"),
    "partir": table("pars pars part partons partent"),
    "mentir": table("mens mens ment mentons mentent"),
    "rire": table("ris ris rit rions rient"),
    "appeler": table("appelle appelles appelle appelons appellent"),
    "nettoyer": table("nettoie nettoies nettoie nettoyons nettoient"),
    "venir": table("viens viens vient venons viennent"),
}
for _inf in ("aimer adorer détester aider parler habiter travailler chanter danser pleurer "
             "écouter regarder chercher laver fermer jouer préparer étudier cuisiner nager "
             "rentrer arriver gagner manger").split():
    V[_inf] = er_verb(_inf)


def agree(m: str, gender: str, plural: bool, f: str | None = None,
          mp: str | None = None, fp: str | None = None) -> str:
    """One of an adjective's / participle's four forms. Regular: +e, +s; multiword is invariant."""
    if " " in m:
        return m
    f = f or (m if m.endswith("e") else m + "e")
    mp = mp or (m if m[-1] in "sx" else m + "s")
    fp = fp or f + "s"
    return {("m", False): m, ("f", False): f, ("m", True): mp, ("f", True): fp}[(gender, plural)]


# --------------------------------------------------------------------------- lexicon: subjects

@dataclass(frozen=True)
class Subj:
    en: str
    fr: str
    person: str                # conjugation slot
    gender: str | None         # None: unknown in English (i, you, we) -> gender-free French only
    plural: bool = False
    pron: bool = False

    @property
    def third_sg(self) -> bool:
        return self.person == "3s"

    @property
    def fr_pron(self) -> str:
        """The pronoun used for inversion: 'tom' -> 'il' in 'tom est-il ...'."""
        if self.pron:
            return self.fr
        return {("m", False): "il", ("f", False): "elle",
                ("m", True): "ils", ("f", True): "elles"}[(self.gender, self.plural)]

    @property
    def disjunctive(self) -> str:   # chez moi / toi / lui / elle / nous / eux / elles
        return {"je": "moi", "tu": "toi", "nous": "nous", "il": "lui", "elle": "elle",
                "ils": "eux", "elles": "elles"}[self.fr_pron]

    @property
    def reflexive(self) -> str:
        return {"1s": "me", "2s": "te", "1p": "nous"}.get(self.person, "se")


I, YOU, HE, SHE, WE, THEY = (Subj("i", "je", "1s", None, pron=True),
                             Subj("you", "tu", "2s", None, pron=True),
                             Subj("he", "il", "3s", "m", pron=True),
                             Subj("she", "elle", "3s", "f", pron=True),
                             Subj("we", "nous", "1p", None, True, pron=True),
                             Subj("they", "ils", "3p", "m", True, pron=True))
PRONOUNS = [I, YOU, HE, SHE, WE, THEY]
TOM, MARY = Subj("tom", "tom", "3s", "m"), Subj("mary", "mary", "3s", "f")
NAMES = [TOM, MARY]
EN_BE = {"i": ("i'm", "i'm not", "am i"), "you": ("you're", "you aren't", "are you"),
         "he": ("he's", "he isn't", "is he"), "she": ("she's", "she isn't", "is she"),
         "we": ("we're", "we aren't", "are we"), "they": ("they're", "they aren't", "are they")}
EN_POSS = {"i": "my", "you": "your", "he": "his", "she": "her", "we": "our", "they": "their"}
FR_POSS = {"1s": ("mon", "ma", "mes"), "2s": ("ton", "ta", "tes"), "3s": ("son", "sa", "ses"),
           "1p": ("notre", "notre", "nos"), "3p": ("leur", "leur", "leurs")}


@dataclass(frozen=True)
class Noun:
    en: str
    fr: str
    gender: str
    en_pl: str = ""
    fr_pl: str = ""

    def en_form(self, plural: bool) -> str:
        return (self.en_pl or self.en + "s") if plural else self.en

    def fr_form(self, plural: bool) -> str:
        return (self.fr_pl or self.fr + "s") if plural else self.fr


def n(spec: str) -> Noun:
    """'en fr g [en_pl fr_pl]' with '_' for a space: 'man homme m men hommes'."""
    parts = [p.replace("_", " ") for p in spec.split()]
    return Noun(*parts)


def the(noun: Noun, plural: bool = False) -> tuple[str, str]:
    article = "les" if plural else ("le" if noun.gender == "m" else "la")
    return f"the {noun.en_form(plural)}", f"{article} {noun.fr_form(plural)}"


def a(noun: Noun) -> tuple[str, str]:
    en_art = "an" if noun.en[0] in "aeiou" else "a"
    return f"{en_art} {noun.en}", f"{'un' if noun.gender == 'm' else 'une'} {noun.fr}"


def poss(owner: Subj, noun: Noun, plural: bool = False) -> tuple[str, str]:
    """'his mother' -> 'sa mère': the French possessive agrees with the possessed noun;
    ma/ta/sa become mon/ton/son before a vowel (mon école)."""
    en_owner = EN_POSS.get(owner.en, "his" if owner.gender == "m" else "her")
    if owner.plural and not owner.pron:
        en_owner = "their"
    m, f, pl = FR_POSS[owner.person]
    det = pl if plural else (m if noun.gender == "m" or starts_with_vowel(noun.fr) else f)
    return f"{en_owner} {noun.en_form(plural)}", f"{det} {noun.fr_form(plural)}"


def np_subj(en: str, fr: str, gender: str, plural: bool) -> Subj:
    return Subj(en, fr, "3p" if plural else "3s", gender, plural)


PEOPLE = [np_subj(*the(n(s), pl), n(s).gender, pl) for s, pl in [
    ("boy garçon m", False), ("girl fille f", False), ("man homme m men hommes", False),
    ("woman femme f women femmes", False), ("children enfants m children enfants", True),
    ("boys garçons m boys garçons", True), ("girls filles f girls filles", True),
    ("women femmes f women femmes", True), ("men hommes m men hommes", True)]]
FAMILY = [n(s) for s in ["father père m", "mother mère f", "brother frère m", "sister sœur f",
                         "son fils m sons fils", "daughter fille f", "uncle oncle m",
                         "aunt tante f", "husband mari m", "wife femme f wives femmes"]]
PARENTS = n("parents parents m parents parents")


def owner_fits(owner: Subj, noun: Noun) -> bool:
    """No "our husband" or "their wife": a spouse has one owner, named by he/she/i/you."""
    return noun.en not in ("husband", "wife") or owner in (I, YOU) or \
        (owner, noun.en) in ((HE, "wife"), (SHE, "husband"))


def family_subjects() -> list[Subj]:
    """my mother, his sister, our parents, ... (the owner's pronoun fixes the possessive)."""
    out = []
    for owner in PRONOUNS:
        for noun in FAMILY:
            if not owner_fits(owner, noun):
                continue
            en, fr = poss(owner, noun)
            out.append(np_subj(en, fr, noun.gender, False))
        en, fr = poss(owner, PARENTS, True)
        out.append(np_subj(en, fr, "m", True))
    return out


def en_be(s: Subj, form: int) -> str:
    """form 0: 'he's' / 'tom is', 1: 'he isn't', 2: 'is he'."""
    if s.en in EN_BE:
        return EN_BE[s.en][form]
    verb = "are" if s.plural else "is"
    return [f"{s.en} {verb}", f"{s.en} {verb}n't", f"{verb} {s.en}"][form]


def en_do(s: Subj, neg: bool) -> str:
    if neg:
        return "doesn't" if s.third_sg else "don't"
    return "does" if s.third_sg else "do"


# --------------------------------------------------------------------------- clause builders

def fr_statement(s: Subj, verb: str, post: list[str] = (), pre: list[str] = (),
                 neg: bool = False) -> list[str]:
    """subject (ne) clitics verb (pas) rest ."""
    return ([s.fr] + (["ne"] if neg else []) + list(pre) + [verb]
            + (["pas"] if neg else []) + list(post) + ["."])


def fr_question(s: Subj, verb: str, post: list[str] = (), pre: list[str] = (),
                wh: list[str] = ()) -> list[str]:
    """Inversion: 'aime-t-il', 'tom est-il', 'l'as-tu'. The -t- keeps two vowels apart."""
    if wh and not s.pron and not post and not pre:
        return list(wh) + [verb, s.fr, "?"]     # où est tom ? (a bare noun subject may follow)
    pron = s.fr_pron
    t = "-t" if pron in ("il", "elle") and verb[-1] in "ae" else ""
    head = [] if s.pron else [s.fr]
    return list(wh) + head + list(pre) + [f"{verb}{t}-{pron}"] + list(post) + ["?"]


def keep(en: list[str] | str, percent: int) -> bool:
    """Deterministic thinning: keep about `percent`% of a big frame, chosen by CRC32."""
    return zlib.crc32(en_text(en if isinstance(en, list) else [en]).encode()) % 100 < percent


# --------------------------------------------------------------------------- frames

FIXED = """
hi .	salut .
hello !	bonjour !
thanks .	merci .
thank you very much .	merci beaucoup .
goodbye .	au revoir .
good night .	bonne nuit .
good morning .	bonjour .
welcome .	bienvenue .
cheers !	santé !
really ?	vraiment ?
of course .	bien sûr .
no way !	pas question !
me too .	moi aussi .
not me .	pas moi .
why ?	pourquoi ?
why not ?	pourquoi pas ?
who ?	qui ?
when ?	quand ?
where ?	où ?
how ?	comment ?
yes .	oui .
no .	non .
ok .	d'accord .
excuse me .	pardon .
i see .	je vois .
i know .	je sais .
i don't know .	je ne sais pas .
i understand .	je comprends .
i don't understand .	je ne comprends pas .
i agree .	je suis d'accord .
i promise .	je promets .
i'm coming .	j'arrive .
i did it .	je l'ai fait .
how are you ?	comment vas-tu ?
i'm fine .	je vais bien .
see you tomorrow .	à demain .
see you later .	à plus tard .
good luck !	bonne chance !
happy birthday !	joyeux anniversaire !
congratulations !	félicitations !
help !	à l'aide !
fire !	au feu !
look out !	attention !
who is it ?	qui est-ce ?
what is it ?	qu'est-ce que c'est ?
what time is it ?	quelle heure est-il ?
what happened ?	que s'est-il passé ?
what do you want ?	que veux-tu ?
what are you doing ?	que fais-tu ?
what is he doing ?	que fait-il ?
what did you say ?	qu'as-tu dit ?
what's your name ?	comment t'appelles-tu ?
what's his name ?	comment s'appelle-t-il ?
what's her name ?	comment s'appelle-t-elle ?
my name is tom .	je m'appelle tom .
his name is tom .	il s'appelle tom .
her name is mary .	elle s'appelle mary .
how is he ?	comment va-t-il ?
how is she ?	comment va-t-elle ?
how is tom ?	comment va tom ?
how old are you ?	quel âge as-tu ?
how old is he ?	quel âge a-t-il ?
how old is she ?	quel âge a-t-elle ?
how old is tom ?	quel âge a tom ?
who is he ?	qui est-il ?
who is she ?	qui est-elle ?
who are you ?	qui es-tu ?
who are they ?	qui sont-ils ?
who's there ?	qui est là ?
who knows ?	qui sait ?
who wants tea ?	qui veut du thé ?
it's me .	c'est moi .
it's you .	c'est toi .
it's him .	c'est lui .
it's her .	c'est elle .
it's us .	c'est nous .
it's them .	ce sont eux .
it's cold .	il fait froid .
it's hot .	il fait chaud .
it's very cold .	il fait très froid .
it's very hot .	il fait très chaud .
it's late .	il est tard .
it's early .	il est tôt .
it's raining .	il pleut .
it's snowing .	il neige .
it isn't raining .	il ne pleut pas .
is it raining ?	pleut-il ?
it's sunny .	il y a du soleil .
it's windy .	il y a du vent .
it's dark .	il fait nuit .
"""


def fixed() -> Iterator[Pair]:
    for line in FIXED.strip().split("\n"):
        en, fr = line.split("\t")
        yield en, fr


IMPERATIVES = """
go .	va !
run !	cours !
wait !	attends !
stop !	arrête !
come here .	viens ici .
sit down .	assieds-toi .
listen .	écoute .
be quiet .	tais-toi .
look .	regarde .
hurry up .	dépêche-toi .
get up .	lève-toi .
go away !	va-t'en !
call me .	appelle-moi .
help me .	aide-moi .
wait for me .	attends-moi .
follow me .	suis-moi .
try again .	essaie encore .
come in .	entre .
calm down .	calme-toi .
come back .	reviens .
go home .	rentre chez toi .
go to bed .	va au lit .
eat !	mange !
look at me .	regarde-moi .
answer me .	réponds-moi .
tell me .	dis-moi .
trust me .	fais-moi confiance .
forget it .	oublie ça .
take it .	prends-le .
try it .	essaie-le .
do it .	fais-le .
let's go !	allons-y !
let's eat .	mangeons .
let's try .	essayons .
let's dance .	dansons .
let's begin .	commençons .
let's wait .	attendons .
don't move !	ne bouge pas !
don't worry .	ne t'inquiète pas .
don't cry .	ne pleure pas .
don't lie .	ne mens pas .
don't laugh .	ne ris pas .
don't go .	ne pars pas .
don't touch it .	n'y touche pas .
don't shout .	ne crie pas .
don't run .	ne cours pas .
don't forget .	n'oublie pas .
don't look .	ne regarde pas .
don't stop .	ne t'arrête pas .
"""

# imperative (tu form), English verb, compatible "the" objects
IMP_OBJECT_VERBS = [("open", "ouvre", "door window box bag bottle"),
                    ("close", "ferme", "door window box bag"),
                    ("take", "prends", "book key bag umbrella ball"),
                    ("wash", "lave", "car glass dog"),
                    ("clean", "nettoie", "kitchen room car"),
                    ("find", "trouve", "key ball cat dog"),
                    ("bring", "apporte", "book key ball"),
                    ("read", "lis", "book letter newspaper"),
                    ("drink", "bois", "milk water tea coffee"),
                    ("eat", "mange", "soup bread apple fish")]
IMP_PRONOUN_VERBS = [("help", "aide"), ("call", "appelle"), ("wait for", "attends"),
                     ("look at", "regarde"), ("follow", "suis"), ("kiss", "embrasse")]
OBJ_PRONOUNS = [("me", "me"), ("you", "te"), ("him", "le"), ("her", "la"), ("us", "nous"),
                ("them", "les")]


def imperatives() -> Iterator[Pair]:
    for line in IMPERATIVES.strip().split("\n"):
        yield tuple(line.split("\t"))
    for name in ("calm", "honest", "modest", "optimistic"):     # gender-free, sensible as advice
        yield en_text(["be", name, "."]), fr_text(["sois", ADJ[name].m, "."])
    for name in ("late", "sad", "shy", "angry", "stupid"):
        yield en_text(["don't", "be", name, "."]), fr_text(["ne", "sois", "pas", ADJ[name].m, "."])
    for en_v, fr_v, objs in IMP_OBJECT_VERBS:
        for key in objs.split():
            en_o, fr_o = the(THINGS[key])
            yield en_text([en_v, en_o, "."]), fr_text([fr_v, fr_o, "."])
            if keep([en_v, en_o], 50):
                yield (en_text(["don't", en_v, en_o, "."]),
                       fr_text(["ne", fr_v, "pas", fr_o, "."]))
    for en_v, fr_v in IMP_PRONOUN_VERBS:
        for en_o, fr_o in OBJ_PRONOUNS:
            if en_o == "you":
                continue  # an order to "you" about "you" would be reflexive
            # why: the affirmative imperative puts the pronoun after the verb, and me -> moi
            stressed = "moi" if fr_o == "me" else fr_o
            yield en_text([en_v, en_o, "."]), fr_text([f"{fr_v}-{stressed}", "."])
            yield (en_text(["don't", en_v, en_o, "."]),
                   fr_text(["ne", fr_o, fr_v, "pas", "."]))


# ---- adjectives

@dataclass(frozen=True)
class Adj:
    en: str
    m: str
    f: str = ""
    mp: str = ""
    fp: str = ""
    very: bool = True     # takes "very" / "très"

    def form(self, gender: str | None, plural: bool) -> str:
        return agree(self.m, gender or "m", plural, self.f or None, self.mp or None, self.fp or None)

    @property
    def gender_free(self) -> bool:
        return self.form("m", False) == self.form("f", False) and \
            self.form("m", True) == self.form("f", True)


def adjs(spec: str) -> list[Adj]:
    """One adjective a line: 'en m [f mp fp]', '_' for a space, '!' = no 'very'."""
    out = []
    for line in spec.strip().split("\n"):
        parts = [p.replace("_", " ") for p in line.split()]
        very = not parts[0].endswith("!")
        parts[0] = parts[0].rstrip("!")
        out.append(Adj(*parts, very=very))
    return out


ADJ_PERSON = adjs("""
calm calme
sad triste
sick malade
rich riche
poor pauvre
young jeune
shy timide
honest honnête
famous célèbre
funny drôle
weak faible
free! libre
drunk! ivre
thin mince
late! en_retard
angry en_colère
modest modeste
stupid stupide
weird bizarre
optimistic optimiste
tired fatigué
happy content
busy occupé
ready! prêt
strong fort
tall grand
short petit
lazy paresseux paresseuse paresseux paresseuses
alone! seul
married! marié
smart intelligent
polite poli
serious sérieux sérieuse sérieux sérieuses
nervous nerveux nerveuse nerveux nerveuses
kind gentil gentille gentils gentilles
old vieux vieille vieux vieilles
brave courageux courageuse courageux courageuses
crazy! fou folle fous folles
curious curieux curieuse curieux curieuses
careful prudent
awake! réveillé
surprised surpris surprise surpris surprises
beautiful beau belle beaux belles
jealous jaloux jalouse jaloux jalouses
proud fier fière fiers fières
""")
ADJ = {a.en: a for a in ADJ_PERSON}
ADJ.update({a.en: a for a in adjs("""
cute mignon mignonne mignons mignonnes
small petit
big grand
black noir
white blanc blanche blancs blanches
fast rapide
hot chaud
cold froid
good bon bonne bons bonnes
salty salé
sweet sucré
open! ouvert
closed! fermé
dirty sale
clean propre
new! neuf neuve neufs neuves
red! rouge
expensive cher chère chers chères
empty! vide
full! plein
heavy lourd
long long longue longs longues
interesting intéressant
boring ennuyeux ennuyeuse ennuyeux ennuyeuses
fresh frais fraîche frais fraîches
dangerous dangereux dangereuse dangereux dangereuses
""")})

# "he's hungry" -> "il a faim": avoir + bare noun, gender-free, so fine for i/you/we too.
# (en, fr after avoir, fr after "ne ... pas", takes "very")
AVOIR_STATES = [("hungry", "faim", "faim", True), ("thirsty", "soif", "soif", True),
                ("cold", "froid", "froid", True), ("hot", "chaud", "chaud", True),
                ("afraid", "peur", "peur", True), ("sleepy", "sommeil", "sommeil", True),
                ("right", "raison", "raison", False), ("wrong", "tort", "tort", False),
                ("lucky", "de la chance", "de chance", False)]

THINGS = {k: n(v) for k, v in [
    ("soup", "soup soupe f"), ("coffee", "coffee café m"), ("tea", "tea thé m"),
    ("water", "water eau f"), ("milk", "milk lait m"), ("bread", "bread pain m"),
    ("door", "door porte f"), ("window", "window fenêtre f"), ("car", "car voiture f"),
    ("house", "house maison f"), ("book", "book livre m"), ("room", "room chambre f"),
    ("box", "box boîte f boxes boîtes"), ("bag", "bag sac m"), ("shoes", "shoe chaussure f"),
    ("road", "road route f"), ("apple", "apple pomme f"), ("glass", "glass verre m glasses verres"),
    ("bottle", "bottle bouteille f"), ("key", "key clé f"), ("umbrella", "umbrella parapluie m"),
    ("ball", "ball balle f"), ("letter", "letter lettre f"), ("newspaper", "newspaper journal m newspapers journaux"),
    ("kitchen", "kitchen cuisine f"), ("fish", "fish poisson m fish poissons"),
    ("phone", "phone téléphone m"), ("wallet", "wallet portefeuille m"), ("watch", "watch montre f watches montres"),
    ("ticket", "ticket billet m"), ("bike", "bike vélo m"), ("pen", "pen stylo m"),
    ("cake", "cake gâteau m cakes gâteaux"), ("dog", "dog chien m"), ("cat", "cat chat m"),
    ("horse", "horse cheval m horses chevaux"), ("bird", "bird oiseau m birds oiseaux"),
    ("cow", "cow vache f"), ("table", "table table f"), ("bed", "bed lit m"),
    ("chair", "chair chaise f"), ("tree", "tree arbre m"), ("garden", "garden jardin m"),
    ("computer", "computer ordinateur m"), ("shirt", "shirt chemise f"), ("dress", "dress robe f dresses robes"),
    ("child", "child enfant m children enfants"),
]}

# noun -> adjectives that make sense for it when it is the subject
THING_ADJ = {"soup": "hot cold good salty", "coffee": "hot cold good strong sweet",
             "tea": "hot cold good sweet", "water": "hot cold", "milk": "hot cold fresh",
             "bread": "fresh good", "door": "open closed red", "window": "open closed dirty clean",
             "car": "new old red fast dirty clean expensive small big", "house": "big small old new clean dirty empty",
             "book": "new old long short/court interesting boring expensive", "room": "clean dirty empty small big cold",
             "box": "empty heavy full", "bag": "heavy empty full new", "road": "long dangerous",
             "glass": "empty full", "bottle": "empty full", "cake": "good sweet",
             "shirt": "new clean dirty white", "dress": "new red white beautiful", "computer": "new old fast"}
WHY_ADJ = {"tired", "sad", "angry", "late", "happy", "nervous", "jealous", "busy", "sick",
           "surprised", "calm", "alone", "awake", "drunk", "proud"}
ANIMALS = ["dog", "cat", "horse", "bird", "cow"]
ANIMAL_ADJ = "tired sick old young calm cute small big black white fast"


def be_adjective(s: Subj, adj: Adj, very: bool = False, neg: bool = False,
                 question: bool = False, wh: tuple[str, str] | None = None) -> Pair:
    fr_adj = (["très"] if very else []) + [adj.form(s.gender, s.plural)]
    en_adj = (["very"] if very else []) + [adj.en]
    if question or wh:
        en = ([wh[0]] if wh else []) + [en_be(s, 2)] + en_adj + ["?"]
        fr = fr_question(s, V["être"][s.person], fr_adj, wh=[wh[1]] if wh else [])
    else:
        en = [en_be(s, 1 if neg else 0)] + en_adj + ["."]
        fr = fr_statement(s, V["être"][s.person], fr_adj, neg=neg)
    return en_text(en), fr_text(fr)


def adjective_sentences() -> Iterator[Pair]:
    """People, animals and things with adjectives: positive, negative, questions, 'very', 'why'."""
    for s in PRONOUNS + NAMES + PEOPLE + family_subjects():
        main = s.pron or s in NAMES
        for adj in ADJ_PERSON:
            if s.gender is None and not adj.gender_free:
                continue  # "i'm tired" could be fatigué or fatiguée
            if main or keep([s.en, adj.en], 12):
                yield be_adjective(s, adj)
            if main and keep([s.en, adj.en, "not"], 55):
                yield be_adjective(s, adj, neg=True)
            if main and keep([s.en, adj.en, "?"], 20 if s.en == "i" else 45):
                yield be_adjective(s, adj, question=True)
            if s.pron and adj.very and keep([s.en, adj.en, "very"], 40):
                yield be_adjective(s, adj, very=True)
            if main and s.en not in ("i", "we") and adj.en in WHY_ADJ and keep([s.en, adj.en, "why"], 30):
                yield be_adjective(s, adj, wh=("why", "pourquoi"))
    for key in ANIMALS:
        for plural in (False, True):
            s = np_subj(*the(THINGS[key], plural), THINGS[key].gender, plural)
            for name in ANIMAL_ADJ.split():
                if keep([s.en, name], 70):
                    yield be_adjective(s, ADJ[name])
                if keep([s.en, name, "?"], 20):
                    yield be_adjective(s, ADJ[name], question=True)
    for key, names in THING_ADJ.items():
        for plural in (False, True):
            noun = THINGS[key]
            if plural and key in ("soup", "coffee", "tea", "water", "milk", "bread", "road"):
                continue  # mass nouns: no plural
            s = np_subj(*the(noun, plural), noun.gender, plural)
            for name in names.split():
                # "short/court": a thing-specific sense ("a short book" is court, not petit)
                adj = Adj(*name.split("/")) if "/" in name else ADJ[name]
                if not plural or keep([s.en, name], 50):
                    yield be_adjective(s, adj)
                if keep([s.en, name, "not"], 35):
                    yield be_adjective(s, adj, neg=True)
                if keep([s.en, name, "?"], 30):
                    yield be_adjective(s, adj, question=True)
                if adj.very and keep([s.en, name, "very"], 30):
                    yield be_adjective(s, adj, very=True)


def avoir_states() -> Iterator[Pair]:
    """i'm hungry -> j'ai faim ; i'm not lucky -> je n'ai pas de chance ."""
    animals = [np_subj(*the(THINGS[k]), THINGS[k].gender, False) for k in ("dog", "cat")]
    for s in PRONOUNS + NAMES + PEOPLE + animals:
        main = s.pron or s in NAMES
        for en, fr, fr_neg, very in AVOIR_STATES:
            if not main and (not keep([s.en, en], 30) or en in ("right", "wrong", "lucky")):
                continue
            have = V["avoir"][s.person]
            yield en_text([en_be(s, 0), en, "."]), fr_text(fr_statement(s, have, [fr]))
            if main:
                yield en_text([en_be(s, 1), en, "."]), fr_text(fr_statement(s, have, [fr_neg], neg=True))
            if main and s.en != "i" and keep([s.en, en, "?"], 60):
                yield en_text([en_be(s, 2), en, "?"]), fr_text(fr_question(s, have, [fr]))
            if very and s.pron and keep([s.en, en, "very"], 50):
                yield (en_text([en_be(s, 0), "very", en, "."]),
                       fr_text(fr_statement(s, have, ["très", fr])))


def ages() -> Iterator[Pair]:
    """he's thirty . -> il a trente ans ."""
    numbers = [("ten", "dix"), ("twelve", "douze"), ("fifteen", "quinze"), ("eighteen", "dix-huit"),
               ("twenty", "vingt"), ("thirty", "trente"), ("forty", "quarante"),
               ("fifty", "cinquante"), ("sixty", "soixante")]
    for s in PRONOUNS + NAMES:
        for en_num, fr_num in numbers:
            if s.plural or not keep([s.en, en_num], 60):
                continue
            yield en_text([en_be(s, 0), en_num, "."]), fr_text(fr_statement(s, V["avoir"][s.person], [fr_num, "ans"]))


# ---- places

@dataclass(frozen=True)
class Place:
    en_at: str
    en_to: str
    fr: str          # after "à"/"dans" already: "à le parc" -> contracted to "au parc"


PLACES = [Place("at school", "to school", "à la école"), Place("at work", "to work", "à le travail"),
          Place("at the station", "to the station", "à la gare"),
          Place("at the hospital", "to the hospital", "à le hôpital"),
          Place("at the beach", "to the beach", "à la plage"), Place("at the park", "to the park", "à le parc"),
          Place("at the office", "to the office", "à le bureau"), Place("at the bank", "to the bank", "à la banque"),
          Place("at the market", "to the market", "à le marché"),
          Place("at the library", "to the library", "à la bibliothèque"),
          Place("at the restaurant", "to the restaurant", "à le restaurant"),
          Place("at the movies", "to the movies", "à le cinéma"),
          Place("in paris", "to paris", "à paris"), Place("in london", "to london", "à londres"),
          Place("in rome", "to rome", "à rome"), Place("in boston", "to boston", "à boston"),
          Place("in bed", "to bed", "à le lit"), Place("in the kitchen", "", "dans la cuisine"),
          Place("in the garden", "", "dans le jardin"), Place("here", "", "ici"),
          Place("over there", "", "là-bas"), Place("in the car", "", "dans la voiture")]


def places() -> Iterator[Pair]:
    """i'm home . -> je suis chez moi . ; we're going to the beach . ; where is he ?"""
    for s in PRONOUNS + NAMES + PEOPLE[:2] + PEOPLE[5:7]:
        main = s.pron or s in NAMES
        be, go = V["être"][s.person], V["aller"][s.person]
        chez = ["chez", s.disjunctive]
        yield en_text([en_be(s, 0), "home", "."]), fr_text(fr_statement(s, be, chez))
        if main:
            yield en_text([en_be(s, 1), "home", "."]), fr_text(fr_statement(s, be, chez, neg=True))
            yield en_text([en_be(s, 0), "going", "home", "."]), fr_text(fr_statement(s, V["rentrer"][s.person], chez))
        if s.en != "i":
            yield en_text([en_be(s, 2), "home", "?"]), fr_text(fr_question(s, be, chez))
        for p in PLACES:
            if main or keep([s.en, p.en_at], 25):
                yield en_text([en_be(s, 0), p.en_at, "."]), fr_text(fr_statement(s, be, [p.fr]))
            if main and keep([s.en, p.en_at, "not"], 30):
                yield en_text([en_be(s, 1), p.en_at, "."]), fr_text(fr_statement(s, be, [p.fr], neg=True))
            if p.en_to and (main or keep([s.en, p.en_to], 25)):
                yield en_text([en_be(s, 0), "going", p.en_to, "."]), fr_text(fr_statement(s, go, [p.fr]))
            if p.en_to and main and keep([s.en, p.en_to, "not"], 25):
                yield (en_text([en_be(s, 1), "going", p.en_to, "."]),
                       fr_text(fr_statement(s, go, [p.fr], neg=True)))
        if main:
            where = "où"
            yield en_text(["where", en_be(s, 2), "?"]), fr_text(fr_question(s, be, wh=[where]))
            if s.en != "i":
                yield en_text(["where", en_be(s, 2), "going", "?"]), fr_text(fr_question(s, go, wh=[where]))


LANDMARKS = {"on": ("sur", "table bed chair box"), "under": ("sous", "table bed chair car tree"),
             "in": ("dans", "bag box car kitchen garden house"), "near": ("près de", "door tree house window"),
             "behind": ("derrière", "door tree house car")}
MOVABLES = {"key": "on under in", "book": "on under in", "phone": "on under in", "ball": "under in behind",
            "pen": "on under in", "cat": "on under in near behind", "dog": "under in near behind",
            "letter": "on in", "umbrella": "near behind in", "bike": "near behind under"}
SMALL = {"key", "book", "phone", "pen", "letter", "ball"}   # what fits in a bag or a box


def where_things() -> Iterator[Pair]:
    """where is the cat ? -> où est le chat ? ; the key is on the table . -> la clé est sur la table ."""
    for key, preps in MOVABLES.items():
        noun = THINGS[key]
        for plural in (False, True):
            if plural and key not in ("key", "book", "cat", "dog"):
                continue
            en_s, fr_s = the(noun, plural)
            verb_en, verb_fr = ("are", "sont") if plural else ("is", "est")
            yield en_text(["where", verb_en, en_s, "?"]), fr_text(["où", verb_fr, fr_s, "?"])
            s = np_subj(en_s, fr_s, noun.gender, plural)
            for prep in preps.split():
                fr_prep, marks = LANDMARKS[prep]
                for mark in marks.split():
                    if mark == key or (mark in ("bag", "box") and key not in SMALL):
                        continue
                    en_m, fr_m = the(THINGS[mark])
                    if keep([en_s, prep, en_m], 30):
                        yield (en_text([en_be(s, 0), prep, en_m, "."]),
                               fr_text(fr_statement(s, verb_fr, fr_prep.split() + fr_m.split())))
                    if keep([en_s, prep, en_m, "?"], 8):
                        yield (en_text([en_be(s, 2), prep, en_m, "?"]),
                               fr_text(fr_question(s, verb_fr, fr_prep.split() + fr_m.split())))
    for owner in (I, YOU, HE, SHE):
        for key, plural in (("key", True), ("bag", False), ("phone", False), ("car", False),
                            ("wallet", False), ("shoes", True)):
            en_o, fr_o = poss(owner, THINGS[key], plural)
            verb_en, verb_fr = ("are", "sont") if plural else ("is", "est")
            yield en_text(["where", verb_en, en_o, "?"]), fr_text(["où", verb_fr, fr_o, "?"])
    for noun in FAMILY[:4]:
        en_o, fr_o = poss(I, noun)
        yield en_text(["where", "is", en_o, "?"]), fr_text(["où", "est", fr_o, "?"])


# ---- verbs with objects

@dataclass(frozen=True)
class Verb:
    en: str        # base form: "like", "wait for"
    en3: str       # third person singular: "likes"
    fr: str        # key into V
    en_past: str = ""
    pp: str = ""   # French past participle

    def en_form(self, s: Subj) -> str:
        return self.en3 if s.third_sg else self.en


def verb(spec: str) -> Verb:
    return Verb(*[p.replace("_", " ") for p in spec.split()])


# like/love/hate take the generic definite article: j'aime le thé, j'aime les chats.
TASTE_VERBS = [verb("like likes aimer"), verb("love loves adorer"), verb("hate hates détester")]
# (English, French with definite article) - mass nouns singular, count nouns plural
GENERIC = [("tea", "le thé"), ("coffee", "le café"), ("milk", "le lait"), ("wine", "le vin"),
           ("water", "la eau"), ("bread", "le pain"), ("cheese", "le fromage"), ("fish", "le poisson"),
           ("soup", "la soupe"), ("rice", "le riz"), ("music", "la musique"), ("chocolate", "le chocolat"),
           ("meat", "la viande"), ("snow", "la neige"), ("rain", "la pluie"), ("summer", "le été"),
           ("winter", "le hiver"), ("sports", "le sport"), ("jazz", "le jazz"), ("cats", "les chats"),
           ("dogs", "les chiens"), ("books", "les livres"), ("apples", "les pommes"),
           ("flowers", "les fleurs"), ("horses", "les chevaux"),
           ("cake", "le gâteau"), ("french", "le français"), ("math", "les maths"), ("movies", "les films")]
# partitive after eat/drink: je bois du thé -> je ne bois pas de thé
FOOD = {"eat": [("bread", "le pain"), ("cheese", "le fromage"), ("fish", "le poisson"),
                ("rice", "le riz"), ("meat", "la viande"), ("soup", "la soupe"), ("apples", "les pommes"),
                ("eggs", "les œufs"), ("chocolate", "le chocolat"), ("cake", "le gâteau")],
        "drink": [("tea", "le thé"), ("coffee", "le café"), ("milk", "le lait"), ("wine", "le vin"),
                  ("water", "la eau"), ("beer", "la bière"), ("juice", "le jus")]}
EAT_DRINK = {"eat": verb("eat eats manger"), "drink": verb("drink drinks boire")}


def partitive(fr_definite: str, neg: bool) -> list[str]:
    """le thé -> du thé / de thé; les pommes -> des pommes / de pommes; la eau -> de l'eau / d'eau."""
    article, noun = fr_definite.split()
    if neg:
        return ["de", noun]
    return ["de", article, noun]


def do_sentence(s: Subj, v: Verb, en_obj: str, fr_obj: list[str], mode: str,
                fr_neg_obj: list[str] | None = None, pre: list[str] = ()) -> Pair:
    """mode: 'pos' | 'neg' | 'q' for a simple-present clause with an object."""
    fr_v = V[v.fr][s.person]
    if mode == "pos":
        return (en_text([s.en, v.en_form(s), en_obj, "."]),
                fr_text(fr_statement(s, fr_v, fr_obj, pre)))
    if mode == "neg":
        return (en_text([s.en, en_do(s, True), v.en, en_obj, "."]),
                fr_text(fr_statement(s, fr_v, fr_neg_obj or fr_obj, pre, neg=True)))
    return (en_text([en_do(s, False), s.en, v.en, en_obj, "?"]),
            fr_text(fr_question(s, fr_v, fr_obj, pre)))


def tastes() -> Iterator[Pair]:
    """i like tea . -> j'aime le thé . ; i drink tea . -> je bois du thé . ; ... pas de thé ."""
    for s in PRONOUNS + NAMES:
        for v in TASTE_VERBS:
            for en_o, fr_o in GENERIC:
                weight = 55 if v.en == "like" else 22
                if keep([s.en, v.en, en_o], weight):
                    yield do_sentence(s, v, en_o, fr_o.split(), "pos")
                if v.en != "love" and keep([s.en, v.en, en_o, "not"], weight // 2):
                    yield do_sentence(s, v, en_o, fr_o.split(), "neg")
                if v.en == "like" and s.en not in ("i", "we") and keep([s.en, en_o, "?"], 20):
                    yield do_sentence(s, v, en_o, fr_o.split(), "q")
    for s in PRONOUNS + NAMES:
        for key, v in EAT_DRINK.items():
            for en_o, fr_o in FOOD[key]:
                if keep([s.en, key, en_o], 45):
                    yield do_sentence(s, v, en_o, partitive(fr_o, False), "pos")
                if keep([s.en, key, en_o, "not"], 30):
                    yield do_sentence(s, v, en_o, partitive(fr_o, False), "neg", partitive(fr_o, True))
                if s.en not in ("i", "we") and keep([s.en, key, en_o, "?"], 12):
                    yield do_sentence(s, v, en_o, partitive(fr_o, False), "q")


HAVE, WANT = verb("have has avoir"), verb("want wants vouloir")
OWNABLE = ["dog", "cat", "car", "bike", "horse", "computer", "phone", "umbrella", "watch",
           "ticket", "pen", "house", "bird", "child"]
COUNTABLE = ["dog", "cat", "car", "bike", "horse", "book", "child", "bird"]
SIBLINGS = [n("brother frère m"), n("sister sœur f"), n("son fils m sons fils"), n("daughter fille f")]
NUMBERS = [("two", "deux"), ("three", "trois"), ("four", "quatre"), ("five", "cinq"),
           ("six", "six"), ("seven", "sept"), ("eight", "huit"), ("ten", "dix")]


def possession() -> Iterator[Pair]:
    """i have a dog . / i don't have a car . -> je n'ai pas de voiture . / i have two sisters ."""
    for s in PRONOUNS + NAMES:
        for v in (HAVE, WANT):
            for key in OWNABLE:
                if v is WANT and key == "child":
                    continue
                noun = THINGS[key]
                en_o, fr_o = a(noun)
                if keep([s.en, v.en, key], 50):
                    yield do_sentence(s, v, en_o, fr_o.split(), "pos")
                if keep([s.en, v.en, key, "not"], 30):
                    yield do_sentence(s, v, en_o, fr_o.split(), "neg", ["de", noun.fr])
                if s.en not in ("i", "we") and keep([s.en, v.en, key, "?"], 15):
                    yield do_sentence(s, v, en_o, fr_o.split(), "q")
        for noun in SIBLINGS + [THINGS[k] for k in COUNTABLE]:
            for en_num, fr_num in NUMBERS:
                if keep([s.en, en_num, noun.en], 18):
                    yield do_sentence(s, HAVE, f"{en_num} {noun.en_form(True)}",
                                      [fr_num, noun.fr_form(True)], "pos")
            if noun in SIBLINGS:
                en_o, fr_o = a(noun)
                yield do_sentence(s, HAVE, en_o, fr_o.split(), "pos")


# pronoun objects: subject and object must be different people, to avoid reflexives
PRONOUN_VERBS = [verb("love loves aimer"), verb("see sees voir"), verb("know knows connaître"),
                 verb("hear hears entendre"), verb("help helps aider"),
                 verb("believe believes croire"), verb("understand understands comprendre"),
                 verb("hate hates détester"), verb("need needs _")]
SAME = {("i", "me"), ("i", "us"), ("we", "me"), ("we", "us"), ("you", "you"), ("he", "him"),
        ("she", "her"), ("they", "them"), ("tom", "him"), ("mary", "her")}
OBJ_DISJ = {"me": "moi", "you": "toi", "him": "lui", "her": "elle", "us": "nous", "them": "eux"}


def pronoun_objects() -> Iterator[Pair]:
    """i love her . -> je l'aime . ; he doesn't know me . -> il ne me connaît pas ."""
    for s in PRONOUNS + NAMES:
        for v in PRONOUN_VERBS:
            for en_o, fr_o in OBJ_PRONOUNS:
                if (s.en, en_o) in SAME:
                    continue
                main = v.en in ("love", "know", "see")
                if v.en == "need":  # j'ai besoin de toi: a noun phrase, not a clitic
                    if keep([s.en, en_o, "need"], 40):
                        yield do_sentence(s, Verb("need", "needs", "avoir"), en_o,
                                          ["besoin", "de", OBJ_DISJ[en_o]], "pos")
                    continue
                if main or keep([s.en, v.en, en_o], 45):
                    yield do_sentence(s, v, en_o, [], "pos", pre=[fr_o])
                if keep([s.en, v.en, en_o, "not"], 40 if main else 20):
                    yield do_sentence(s, v, en_o, [], "neg", pre=[fr_o])
                if s.en not in ("i", "we") and keep([s.en, v.en, en_o, "?"], 20 if main else 8):
                    yield do_sentence(s, v, en_o, [], "q", pre=[fr_o])


# ---- passé composé

AVOIR_INTRANS = [verb(s) for s in """
lose loses perdre lost perdu
win wins gagner won gagné
sleep sleeps dormir slept dormi
try tries essayer tried essayé
pay pays payer paid payé
laugh laughs rire laughed ri
cry cries pleurer cried pleuré
forget forgets oublier forgot oublié
lie lies mentir lied menti
work works travailler worked travaillé
cheat cheats tricher cheated triché
wait waits attendre waited attendu
dance dances danser danced dansé
sing sings chanter sang chanté
call calls appeler called appelé
fail fails échouer failed échoué
swim swims nager swam nagé
eat eats manger ate mangé
run runs courir ran couru
shout shouts crier shouted crié
refuse refuses refuser refused refusé
hesitate hesitates hésiter hesitated hésité
answer answers répondre answered répondu
smile smiles sourire smiled souri
understand understands comprendre understood compris
""".strip().split("\n")]


def compound(s: Subj, aux_key: str, en_past: str, en_base: str, pp: str, mode: str,
             en_obj: str = "", fr_obj: list[str] = (), pre: list[str] = (), wh=None) -> Pair:
    """Passé composé: j'ai perdu / je n'ai pas perdu / as-tu perdu ?"""
    aux = V[aux_key][s.person]
    obj = [en_obj] if en_obj else []
    if mode == "pos":
        return en_text([s.en, en_past] + obj + ["."]), fr_text(fr_statement(s, aux, [pp] + list(fr_obj), pre))
    if mode == "neg":
        return (en_text([s.en, "didn't", en_base] + obj + ["."]),
                fr_text(fr_statement(s, aux, [pp] + list(fr_obj), pre, neg=True)))
    en_wh = [wh[0]] if wh else []
    return (en_text(en_wh + ["did", s.en, en_base] + obj + ["?"]),
            fr_text(fr_question(s, aux, [pp] + list(fr_obj), pre, wh=[wh[1]] if wh else [])))


def past_avoir() -> Iterator[Pair]:
    """i lost . -> j'ai perdu . ; who won ? -> qui a gagné ?"""
    for v in AVOIR_INTRANS:
        yield en_text(["who", v.en_past, "?"]), fr_text(["qui", "a", v.pp, "?"])
        for s in PRONOUNS + NAMES:
            if s.pron or keep([s.en, v.en_past], 50):
                yield compound(s, "avoir", v.en_past, v.en, v.pp, "pos")
            if keep([s.en, v.en_past, "not"], 35):
                yield compound(s, "avoir", v.en_past, v.en, v.pp, "neg")
            if s.en not in ("i", "we") and keep([s.en, v.en_past, "?"], 20):
                yield compound(s, "avoir", v.en_past, v.en, v.pp, "q")


# verb with a noun object: which objects it takes ("the" and the subject's own "my/his")
PAST_OBJECT_VERBS = [(verb(s.split("|")[0]), s.split("|")[1]) for s in """
lose loses perdre lost perdu|key wallet phone ticket umbrella watch bag pen ball
find finds trouver found trouvé|key wallet phone ticket umbrella watch bag pen ball cat dog
see sees voir saw vu|cat dog horse bird car house letter
break breaks casser broke cassé|glass window watch phone computer bike
open opens ouvrir opened ouvert|door window box bag bottle letter
close closes fermer closed fermé|door window box bag
wash washes laver washed lavé|car dog shirt glass bike
sell sells vendre sold vendu|car house bike computer horse
clean cleans nettoyer cleaned nettoyé|kitchen room car house
fix fixes réparer fixed réparé|car bike computer watch phone door
forget forgets oublier forgot oublié|key ticket umbrella bag phone
write writes écrire wrote écrit|letter book
eat eats manger ate mangé|apple cake soup fish bread
drink drinks boire drank bu|milk water coffee tea
""".strip().split("\n")]
# things one naturally calls "my ...": only these take the subject's possessive
PERSONAL = set("key wallet phone ticket umbrella watch bag pen ball dog cat horse car bike "
               "computer shirt house room".split())
BUY = verb("buy buys acheter bought acheté")


def past_with_objects() -> Iterator[Pair]:
    """i lost my keys . -> j'ai perdu mes clés . ; did you see the cat ? -> as-tu vu le chat ?"""
    for v, objects in PAST_OBJECT_VERBS:
        for key in objects.split():
            noun = THINGS[key]
            for s in PRONOUNS + NAMES:
                plural = key == "key"     # "my keys" is the natural English
                options = [the(noun, plural)]
                if key in PERSONAL and v.en != "see":   # "i lost my keys", not "i saw my letter"
                    options.append(poss(s, noun, plural))
                for en_o, fr_o in options:
                    tag = [s.en, v.en_past, en_o]
                    if keep(tag, 22):
                        yield compound(s, "avoir", v.en_past, v.en, v.pp, "pos", en_o, fr_o.split())
                    if keep(tag + ["not"], 10):
                        yield compound(s, "avoir", v.en_past, v.en, v.pp, "neg", en_o, fr_o.split())
                    if s.en not in ("i", "we") and keep(tag + ["?"], 7):
                        yield compound(s, "avoir", v.en_past, v.en, v.pp, "q", en_o, fr_o.split())
    buy = BUY
    for s in PRONOUNS + NAMES:
        for key in ["car", "bike", "house", "book", "dress", "shirt", "computer", "watch", "cake", "ticket"]:
            en_o, fr_o = a(THINGS[key])
            if keep([s.en, "bought", key], 40):
                yield compound(s, "avoir", buy.en_past, buy.en, buy.pp, "pos", en_o, fr_o.split())


PAST_PRONOUN_VERBS = [verb(s) for s in """
see sees voir saw vu
help helps aider helped aidé
hear hears entendre heard entendu
call calls appeler called appelé
find finds trouver found trouvé
meet meets rencontrer met rencontré
invite invites inviter invited invité
forget forgets oublier forgot oublié
follow follows suivre followed suivi
kiss kisses embrasser kissed embrassé
recognize recognizes reconnaître recognized reconnu
believe believes croire believed cru
""".strip().split("\n")] + [Verb("wait for", "waits for", "attendre", "waited for", "attendu")]
# only him / her / them: a preceding direct object makes the participle agree, and
# "me", "you", "us" would leave its gender open ("je t'ai vu" or "vue"?)
PAST_OBJECTS = [("him", "le", "m", False), ("her", "la", "f", False), ("them", "les", "m", True)]


def past_pronoun_objects() -> Iterator[Pair]:
    """i saw her . -> je l'ai vue . ; we didn't see them . -> nous ne les avons pas vus ."""
    for v in PAST_PRONOUN_VERBS:
        for s in PRONOUNS + NAMES:
            for en_o, fr_o, g, pl in PAST_OBJECTS:
                if (s.en, en_o) in SAME:
                    continue
                pp = agree(v.pp, g, pl)
                tag = [s.en, v.en_past, en_o]
                if keep(tag, 45):
                    yield compound(s, "avoir", v.en_past, v.en, pp, "pos", en_o, pre=[fr_o])
                if keep(tag + ["not"], 20):
                    yield compound(s, "avoir", v.en_past, v.en, pp, "neg", en_o, pre=[fr_o])
                if s.en not in ("i", "we") and keep(tag + ["?"], 10):
                    yield compound(s, "avoir", v.en_past, v.en, pp, "q", en_o, pre=[fr_o])


ETRE_VERBS = [verb(s) for s in """
leave leaves partir left parti
come comes venir came venu
arrive arrives arriver arrived arrivé
fall falls tomber fell tombé
stay stays rester stayed resté
come_back comes_back revenir came_back revenu
go_out goes_out sortir went_out sorti
come_in comes_in entrer came_in entré
""".strip().split("\n")]


def past_etre() -> Iterator[Pair]:
    """she left . -> elle est partie . ; the girls came back . -> les filles sont revenues ."""
    subjects = [HE, SHE, THEY] + NAMES + PEOPLE + family_subjects()
    for v in ETRE_VERBS:
        yield en_text(["who", v.en_past, "?"]), fr_text(["qui", "est", v.pp, "?"])
        for s in subjects:
            main = s.pron or s in NAMES
            pp = agree(v.pp, s.gender, s.plural)
            if main or keep([s.en, v.en_past], 10):
                yield compound(s, "être", v.en_past, v.en, pp, "pos")
            if main and keep([s.en, v.en_past, "not"], 60):
                yield compound(s, "être", v.en_past, v.en, pp, "neg")
            if main and keep([s.en, v.en_past, "?"], 45):
                yield compound(s, "être", v.en_past, v.en, pp, "q")
            if main and v.en in ("leave", "arrive", "come", "come back") and keep([s.en, v.en, "when"], 50):
                yield compound(s, "être", v.en_past, v.en, pp, "q", wh=("when", "quand"))
    for s in subjects:
        main = s.pron or s in NAMES
        went, home = agree("allé", s.gender, s.plural), agree("rentré", s.gender, s.plural)
        if main or keep([s.en, "went home"], 15):
            yield compound(s, "être", "went home", "go home", home, "pos", fr_obj=["chez", s.disjunctive])
        if main:
            yield compound(s, "être", "went", "go", went, "q", wh=("where", "où"))
        for p in PLACES:
            if p.en_to and p.en_to != "to bed" and (keep([s.en, p.en_to], 30 if main else 4)):
                yield compound(s, "être", "went " + p.en_to, "go " + p.en_to, went, "pos", fr_obj=p.fr.split())


# ---- present progressive and habits

ACTIVITIES = [  # (-ing form, French verb, English object, French object, French object after "pas")
    ("eating", "manger", "an apple", "une pomme", "de pomme"),
    ("eating", "manger", "bread", "de le pain", "de pain"),
    ("reading", "lire", "a book", "un livre", "de livre"),
    ("reading", "lire", "the newspaper", "le journal", None),
    ("drinking", "boire", "tea", "de le thé", "de thé"),
    ("drinking", "boire", "water", "de la eau", "de eau"),
    ("watching", "regarder", "tv", "la télé", None),
    ("playing", "jouer", "tennis", "à le tennis", None),
    ("playing", "jouer", "football", "à le football", None),
    ("playing", "jouer", "chess", "à les échecs", None),
    ("playing", "jouer", "the piano", "de le piano", None),
    ("playing", "jouer", "the guitar", "de la guitare", None),
    ("looking for", "chercher", "POSS key+", "", None),
    ("looking for", "chercher", "POSS dog", "", None),
    ("waiting for", "attendre", "tom", "tom", None),
    ("waiting for", "attendre", "mary", "mary", None),
    ("waiting for", "attendre", "the bus", "le bus", None),
    ("writing", "écrire", "a letter", "une lettre", "de lettre"),
    ("learning", "apprendre", "french", "le français", None),
    ("cooking", "préparer", "dinner", "le dîner", None),
    ("washing", "laver", "the car", "la voiture", None),
    ("cleaning", "nettoyer", "the kitchen", "la cuisine", None),
    ("listening to", "écouter", "music", "de la musique", "de musique"),
    ("listening to", "écouter", "the radio", "la radio", None),
    ("singing", "chanter", "a song", "une chanson", "de chanson"),
    ("doing", "faire", "POSS homework", "", None),
    ("calling", "appeler", "POSS mother", "", None),
    ("helping", "aider", "POSS father", "", None),
    ("sleeping", "dormir", "", "", None), ("working", "travailler", "", "", None),
    ("crying", "pleurer", "", "", None), ("laughing", "rire", "", "", None),
    ("lying", "mentir", "", "", None), ("waiting", "attendre", "", "", None),
    ("leaving", "partir", "", "", None), ("dancing", "danser", "", "", None),
    ("studying", "étudier", "", "", None), ("listening", "écouter", "", "", None),
    ("swimming", "nager", "", "", None), ("cooking", "cuisiner", "", "", None),
]
HOMEWORK = Noun("homework", "devoirs", "m", "homework", "devoirs")


def activity_object(s: Subj, en_obj: str, fr_obj: str) -> tuple[str, str]:
    if not en_obj.startswith("POSS"):
        return en_obj, fr_obj
    key = en_obj.split()[1]
    if key == "homework":
        return poss(s, HOMEWORK, True)
    if key == "key+":
        return poss(s, THINGS["key"], True)
    noun = THINGS.get(key) or next(f for f in FAMILY if f.en == key)
    return poss(s, noun)


def progressive() -> Iterator[Pair]:
    """i'm sleeping . -> je dors . ; he's playing tennis . -> il joue au tennis ."""
    for ing, fr_v, en_obj, fr_obj, fr_neg in ACTIVITIES:
        for s in PRONOUNS + NAMES + PEOPLE[4:5]:
            if en_obj == s.en:
                continue  # "mary is waiting for mary"
            en_o, fr_o = activity_object(s, en_obj, fr_obj)
            main = s.pron or s in NAMES
            form = V[fr_v][s.person]
            tag = [s.en, ing, en_o]
            intrans = not en_o
            if keep(tag, 60 if intrans else 40) or (intrans and s.pron):
                yield en_text([en_be(s, 0), ing, en_o, "."]), fr_text(fr_statement(s, form, fr_o.split()))
            if main and keep(tag + ["not"], 40 if intrans else 18):
                neg = (fr_neg or fr_o).split()
                yield en_text([en_be(s, 1), ing, en_o, "."]), fr_text(fr_statement(s, form, neg, neg=True))
            if main and s.en not in ("i", "we") and keep(tag + ["?"], 30 if intrans else 8):
                yield en_text([en_be(s, 2), ing, en_o, "?"]), fr_text(fr_question(s, form, fr_o.split()))


LANGUAGES = [("french", "français"), ("english", "anglais"), ("german", "allemand"),
             ("spanish", "espagnol"), ("italian", "italien"), ("japanese", "japonais"),
             ("chinese", "chinois")]
CITIES = ["paris", ("london", "londres"), "rome", "boston", "berlin", "tokyo"]
SPEAK, LIVE = verb("speak speaks parler"), verb("live lives habiter")


def habits() -> Iterator[Pair]:
    """i speak french . -> je parle français . ; where does he live ? -> où habite-t-il ?"""
    for s in PRONOUNS + NAMES:
        for en_l, fr_l in LANGUAGES:
            if keep([s.en, "speak", en_l], 55) or en_l == "french":
                yield do_sentence(s, SPEAK, en_l, [fr_l], "pos")
            if keep([s.en, "speak", en_l, "not"], 35):
                yield do_sentence(s, SPEAK, en_l, [fr_l], "neg")
            if s.en not in ("i", "we") and keep([s.en, "speak", en_l, "?"], 30):
                yield do_sentence(s, SPEAK, en_l, [fr_l], "q")
        for city in CITIES:
            en_c, fr_c = (city, city) if isinstance(city, str) else city
            if keep([s.en, "live", en_c], 60):
                yield do_sentence(s, LIVE, f"in {en_c}", ["à", fr_c], "pos")
            if keep([s.en, "live", en_c, "not"], 25):
                yield do_sentence(s, LIVE, f"in {en_c}", ["à", fr_c], "neg")
        yield do_sentence(s, LIVE, "here", ["ici"], "pos")
        if s.en not in ("i", "we"):
            yield do_sentence(s, LIVE, "here", ["ici"], "q")
            yield (en_text(["where", en_do(s, False), s.en, "live", "?"]),
                   fr_text(fr_question(s, V["habiter"][s.person], wh=["où"])))


# ---- verbs + infinitive

INFINITIVES = [  # English, French infinitive (tokens); "REFL" = the subject's reflexive pronoun
    ("sleep", "dormir"), ("eat", "manger"), ("help", "aider"), ("win", "gagner"), ("leave", "partir"),
    ("know", "savoir"), ("try", "essayer"), ("dance", "danser"), ("swim", "nager"),
    ("learn french", "apprendre le français"), ("see tom", "voir tom"), ("see mary", "voir mary"),
    ("go home", "rentrer chez DISJ"), ("rest", "REFL reposer"), ("sit down", "REFL asseoir"),
    ("work", "travailler"), ("sing", "chanter"), ("play", "jouer"), ("talk", "parler"),
    ("drive", "conduire"), ("cook", "cuisiner"), ("read", "lire"), ("wait", "attendre"),
    ("buy a car", "acheter une voiture"), ("go to paris", "aller à paris"),
    ("speak french", "parler français"), ("stay here", "rester ici"), ("come", "venir"),
]
SKILLS = ["swim", "dance", "drive", "cook", "sing", "read", "speak french"]   # can -> savoir
MODALS = {"want to": ("vouloir", True), "need to": ("avoir besoin de", True),
          "have to": ("devoir", False), "like to": ("aimer", True), "can": ("savoir", True)}


def infinitive_phrase(s: Subj, fr_inf: str) -> list[str]:
    return fr_inf.replace("REFL", s.reflexive).replace("DISJ", s.disjunctive).split()


def modal_sentence(s: Subj, modal: str, en_inf: str, fr_inf: str, mode: str) -> Pair:
    fr_key, _ = MODALS[modal]
    head, *rest = fr_key.split()   # "avoir besoin de" -> conjugate avoir, keep "besoin de"
    form = V[head][s.person]
    tail = rest + infinitive_phrase(s, fr_inf)
    en_verb = modal.split()[0]
    en_verb3 = {"want": "wants", "need": "needs", "have": "has", "like": "likes", "can": "can"}[en_verb]
    to = " to" if modal != "can" else ""
    if mode == "pos":
        en = [s.en, (en_verb3 if s.third_sg else en_verb) + to, en_inf, "."]
        return en_text(en), fr_text(fr_statement(s, form, tail))
    if mode == "neg":
        en_neg = ["can't"] if modal == "can" else [en_do(s, True), en_verb + to]
        return en_text([s.en] + en_neg + [en_inf, "."]), fr_text(fr_statement(s, form, tail, neg=True))
    en_q = ["can", s.en] if modal == "can" else [en_do(s, False), s.en, en_verb + to]
    return en_text(en_q + [en_inf, "?"]), fr_text(fr_question(s, form, tail))


def modals() -> Iterator[Pair]:
    """i want to sleep . -> je veux dormir . ; can you swim ? -> sais-tu nager ? ; i have to go ."""
    for s in PRONOUNS + NAMES:
        for modal, (_, negatable) in MODALS.items():
            for en_inf, fr_inf in INFINITIVES:
                if modal == "can" and en_inf not in SKILLS:
                    continue  # "can" only for skills, where French uses savoir
                if modal == "like to" and en_inf in ("know", "leave", "see tom", "see mary", "rest",
                                                     "sit down", "go home", "buy a car", "wait", "come"):
                    continue
                if s.en in en_inf.split():
                    continue  # "tom wants to see tom"
                tag = [s.en, modal, en_inf]
                if keep(tag, 35 if modal in ("want to", "can") else 18):
                    yield modal_sentence(s, modal, en_inf, fr_inf, "pos")
                # "je ne dois pas partir" means "must not", so "have to" is never negated
                if negatable and keep(tag + ["not"], 20 if modal in ("want to", "can") else 10):
                    yield modal_sentence(s, modal, en_inf, fr_inf, "neg")
                if negatable and modal != "need to" and s.en not in ("i", "we") and keep(tag + ["?"], 12):
                    yield modal_sentence(s, modal, en_inf, fr_inf, "q")


# ---- c'est / ce n'est pas

CEST_ADJ = [("easy", "facile"), ("hard", "difficile"), ("true", "vrai"), ("free", "gratuit"),
            ("fun", "amusant"), ("possible", "possible"), ("impossible", "impossible"),
            ("important", "important"), ("normal", "normal"), ("perfect", "parfait"),
            ("strange", "étrange"), ("dangerous", "dangereux"), ("useful", "utile"),
            ("expensive", "cher"), ("new", "nouveau"), ("simple", "simple"), ("funny", "drôle"),
            ("serious", "grave"), ("my fault", "ma faute"), ("a secret", "un secret"),
            ("a trap", "un piège"), ("a joke", "une blague"), ("a good idea", "une bonne idée")]
OWNED = ["car", "book", "dog", "cat", "house", "bag", "phone", "bike", "room", "umbrella", "key",
         "ticket", "computer", "watch"]


def cest() -> Iterator[Pair]:
    """it's easy . -> c'est facile . ; it isn't my car . -> ce n'est pas ma voiture ."""
    for en, fr in CEST_ADJ:
        yield en_text(["it's", en, "."]), fr_text(["ce", "est", fr, "."])
        yield en_text(["it", "isn't", en, "."]), fr_text(["ce", "ne", "est", "pas", fr, "."])
        if keep([en, "?"], 50):
            yield en_text(["is", "it", en, "?"]), fr_text(["est-ce", fr, "?"])
        if fr in ("facile", "difficile", "important", "dangereux", "cher", "simple", "drôle", "utile"):
            yield en_text(["it's", "very", en, "."]), fr_text(["ce", "est", "très", fr, "."])
    for owner in PRONOUNS:
        for key in OWNED:
            en_o, fr_o = poss(owner, THINGS[key])
            if keep([owner.en, key, "it's"], 55):
                yield en_text(["it's", en_o, "."]), fr_text(["ce", "est", fr_o, "."])
            if keep([owner.en, key, "isn't"], 25):
                yield en_text(["it", "isn't", en_o, "."]), fr_text(["ce", "ne", "est", "pas", fr_o, "."])
            if owner.en != "i" and keep([owner.en, key, "?"], 20):
                yield en_text(["is", "it", en_o, "?"]), fr_text(["est-ce", fr_o, "?"])
        for noun in FAMILY:
            en_o, fr_o = poss(owner, noun)
            if owner_fits(owner, noun) and keep([owner.en, noun.en, "this"], 40):
                yield en_text(["this", "is", en_o, "."]), fr_text(["ce", "est", fr_o, "."])
        for key in ("book", "key", "shoes"):
            en_o, fr_o = poss(owner, THINGS[key], True)
            yield en_text(["these", "are", en_o, "."]), fr_text(["ce", "sont", fr_o, "."])
        en_o, fr_o = poss(owner, n("school école f"))
        yield en_text(["this", "is", en_o, "."]), fr_text(["ce", "est", fr_o, "."])


FRAMES = [fixed, imperatives, adjective_sentences, avoir_states, ages, places, where_things,
          tastes, possession, pronoun_objects, past_avoir, past_with_objects,
          past_pronoun_objects, past_etre, progressive, habits, modals, cest]


# --------------------------------------------------------------------------- assembly and checks

def collect() -> list[Pair]:
    """All frames -> unique pairs, shortest first. Over-long pairs are dropped (num_steps)."""
    pairs: dict[str, str] = {}
    for frame in FRAMES:
        for en, fr in frame():
            if len(en.split()) > MAX_EN or len(fr.split()) > MAX_FR:
                continue
            if pairs.setdefault(en, fr) != fr:
                raise ValueError(f"two translations for {en!r}: {pairs[en]!r} / {fr!r}")
    return sorted(pairs.items(), key=lambda p: (len(p[0]), len(p[1]), p))


PUNCT = set(",.!?")
TOKEN = re.compile(r"^[a-zà-ÿœ0-9'-]+$|^[,.!?]$")


def check(pairs: list[Pair]) -> None:
    """The corpus contract: book pairs present, unique, short, lowercase, d2l spacing."""
    lines = [f"{en}\t{fr}" for en, fr in pairs]
    for en, fr in BOOK_PAIRS:
        assert f"{en}\t{fr}" in lines, f"missing book pair {en!r}"
    assert len(set(lines)) == len(lines), "duplicate lines"
    assert len({en for en, _ in pairs}) == len(pairs), "an English sentence has two translations"
    assert len(pairs) >= 1200, f"only {len(pairs)} pairs"
    for line in lines:
        assert line.count("\t") == 1, line
        assert line == line.lower(), line
        assert "\xa0" not in line and "\u202f" not in line, line
        for side, limit in zip(line.split("\t"), (MAX_EN, MAX_FR)):
            tokens = side.split(" ")
            assert 1 <= len(tokens) <= limit, line
            assert all(tokens), f"double space: {line!r}"
            assert tokens[-1] in PUNCT, f"no final punctuation: {line!r}"
            for tok in tokens:
                assert TOKEN.match(tok), f"bad token {tok!r} in {line!r}"
        fr_tokens = line.split("\t")[1].split()
        for left, right in zip(fr_tokens, fr_tokens[1:]):
            assert not (left in ELIDABLE and starts_with_vowel(right)), f"missed elision: {line!r}"
            assert (left, right) not in CONTRACT, f"missed contraction: {line!r}"


def main() -> None:
    pairs = collect()
    check(pairs)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(f"{en}\t{fr}\n" for en, fr in pairs), encoding="utf-8")
    print(f"wrote {len(pairs)} pairs to {OUT}")


if __name__ == "__main__":
    main()
