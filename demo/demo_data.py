"""The demo community that `make run` loads: deterministic, realistic, made up.

Pure Python (no Django imports), so `scripts/run.py` can read the login from here too.
`demo_members(now)` returns the same people on every run: one seeded random generator draws
every name, company, title and place; only the dates move with `now`. Email addresses use
reserved domains (`example.com`, `<company>.example`) so nothing here can reach a real inbox.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

DEMO_SLUG = "demo"
DEMO_NAME = "Demo Community"
DEMO_USERNAME = "demo"
# A local demo login, printed by `seed_demo` and `make run` and documented in the README.
DEMO_PASSWORD = "demo-community-2026"  # noqa: S105
DEMO_SOURCE = "demo"
DEMO_MEMBER_COUNT = 2000
DEMO_SEED = 20260101

# The six segment ideas of docs/rules.md, as a new user first sees them: pinned ones become the
# pills above the table, in this order. "Mentors" is manual: seed_demo hand-picks its members.
DEMO_SEGMENTS: tuple[dict[str, Any], ...] = (
    {
        "name": "Acme",
        "color": "blue",
        "pinned": True,
        "description": "Everyone who works at Acme.",
        "rule": {"all": [{"field": "company_name", "op": "is", "value": "Acme"}]},
    },
    {
        "name": "Designers",
        "color": "violet",
        "pinned": True,
        "description": "Product designers, UX researchers and anyone with design in their role.",
        "rule": {
            "any": [
                {"field": "job_title", "op": "contains", "value": "designer"},
                {"field": "job_title", "op": "contains", "value": "ux"},
            ]
        },
    },
    {
        "name": "New this month",
        "color": "green",
        "pinned": True,
        "description": "Joined in the last 30 days: welcome them.",
        "rule": {
            "all": [
                {"field": "joined_at", "op": "within_last", "value": {"amount": 30, "unit": "days"}}
            ]
        },
    },
    {
        "name": "Super users",
        "color": "amber",
        "pinned": True,
        "description": "Impact above 2: the members who carry the community.",
        "rule": {"all": [{"field": "impact_score", "op": "gt", "value": 2}]},
    },
    {
        "name": "Austin",
        "color": "teal",
        "pinned": True,
        "description": "Members in Austin, for the meetup.",
        "rule": {"all": [{"field": "city", "op": "is", "value": "Austin"}]},
    },
    {
        "name": "Mentors",
        "color": "rose",
        "pinned": True,
        "description": "Hand-picked mentors for the mentoring programme.",
        "review_every_days": 30,
    },
    {
        "name": "New this week",
        "color": "green",
        "rule": {
            "all": [
                {"field": "joined_at", "op": "within_last", "value": {"amount": 7, "unit": "days"}}
            ]
        },
    },
    {
        "name": "Active",
        "color": "green",
        "description": "Frequency, Recency and Impact all above 1.",
        "rule": {
            "all": [
                {"field": "frequency_score", "op": "gt", "value": 1},
                {"field": "recency_score", "op": "gt", "value": 1},
                {"field": "impact_score", "op": "gt", "value": 1},
            ]
        },
    },
    {
        "name": "Inactive",
        "color": "slate",
        "description": "Frequency, Recency and Impact all below 1: time to re-engage.",
        "rule": {
            "all": [
                {"field": "frequency_score", "op": "lt", "value": 1},
                {"field": "recency_score", "op": "lt", "value": 1},
                {"field": "impact_score", "op": "lt", "value": 1},
            ]
        },
    },
    {
        "name": "Quiet for a quarter",
        "color": "slate",
        "description": "Not seen for more than 3 months.",
        "rule": {
            "all": [
                {
                    "field": "last_seen_at",
                    "op": "more_than_ago",
                    "value": {"amount": 3, "unit": "months"},
                }
            ]
        },
    },
)
DEMO_MENTOR_COUNT = 12

# ---------------------------------------------------------------------------------------------
# Names, by naming tradition. Cities below draw from the pools that live there.

NAME_POOLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "english": (
        (
            "James", "Olivia", "Liam", "Emma", "Noah", "Ava", "Ethan", "Sophia", "Mason",
            "Isabella", "Lucas", "Mia", "Logan", "Charlotte", "Jackson", "Amelia", "Aiden",
            "Harper", "Caleb", "Evelyn", "Ryan", "Abigail", "Nathan", "Emily", "Tyler",
            "Madison", "Hannah", "Grace", "Chloe", "Daniel", "Megan", "Jessica", "Ashley",
            "Sarah", "Michael", "David", "Chris", "Jordan", "Taylor", "Morgan", "Casey",
            "Rachel", "Lauren", "Kevin", "Brian", "Jason", "Kyle", "Brandon", "Dylan", "Zoe",
            "Lily", "Oliver", "Harry", "George", "Jack", "Charlie", "Thomas", "Oscar", "Freya",
            "Poppy", "Isla", "Alfie", "Eleanor", "Imogen", "Rhys", "Fiona", "Callum", "Niamh",
            "Siobhan", "Declan", "Molly", "Sean", "Katie", "Ben", "Alex", "Sam",
        ),
        (
            "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
            "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White",
            "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
            "Wright", "Scott", "Hill", "Green", "Adams", "Baker", "Nelson", "Carter",
            "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans",
            "Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Cooper",
            "Peterson", "Reed", "Bailey", "Bell", "Kelly", "Howard", "Ward", "Richardson",
            "Wood", "Watson", "Brooks", "Bennett", "Gray", "Hughes", "Price", "Sanders",
            "O'Brien", "O'Connor", "McCarthy", "Fitzgerald", "Hayes", "Sullivan", "Walsh",
            "Byrne", "Shaw", "Holmes", "Ellis", "Palmer", "Fletcher", "Barnes", "Hunt",
        ),
    ),
    "spanish": (
        (
            "José", "María", "Juan", "Ana", "Carlos", "Lucía", "Luis", "Sofía", "Miguel",
            "Valentina", "Diego", "Camila", "Alejandro", "Isabel", "Javier", "Elena", "Mateo",
            "Daniela", "Pablo", "Gabriela", "Andrés", "Carmen", "Santiago", "Paula",
            "Fernando", "Mariana", "Ricardo", "Ximena", "Emilio", "Renata", "Joaquín", "Inés",
        ),
        (
            "García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez",
            "Sánchez", "Ramírez", "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Reyes",
            "Morales", "Cruz", "Ortiz", "Gutiérrez", "Chávez", "Ramos", "Ruiz", "Jiménez",
            "Moreno", "Álvarez", "Romero", "Navarro", "Domínguez", "Vargas", "Castillo",
            "Fernández", "Herrera", "Medina", "Aguilar", "Vega", "Peña",
        ),
    ),
    "german": (
        (
            "Lukas", "Leon", "Finn", "Jonas", "Paul", "Felix", "Maximilian", "Tobias",
            "Sebastian", "Julian", "Moritz", "Niklas", "Hannah", "Lea", "Lena", "Anna",
            "Laura", "Lisa", "Katharina", "Johanna", "Marie", "Sophie", "Clara", "Greta",
            "Jana", "Miriam", "Sabine", "Stefan", "Matthias", "Jürgen", "Jörg", "Ute",
        ),
        (
            "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
            "Schulz", "Hoffmann", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder",
            "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann",
            "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann", "Vogel", "Jung",
            "Günther", "Keller", "Frank", "Berger", "Fuchs", "Scholz", "Weiß",
        ),
    ),
    "french": (
        (
            "Louis", "Gabriel", "Raphaël", "Arthur", "Jules", "Hugo", "Léo", "Adam", "Théo",
            "Camille", "Chloé", "Léa", "Manon", "Inès", "Jade", "Louise", "Alice", "Juliette",
            "Margaux", "Élodie", "Mathilde", "Antoine", "Baptiste", "Clément", "Julien",
            "Maxime", "Céline", "Amélie", "Aurélien", "Océane",
        ),
        (
            "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
            "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "David", "Bertrand",
            "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Lefèvre", "Mercier",
            "Dupont", "Lambert", "Bonnet", "François", "Legrand", "Garnier", "Faure",
            "Rousseau", "Blanc", "Guérin", "Chevalier",
        ),
    ),
    "indian": (
        (
            "Aarav", "Vivaan", "Aditya", "Arjun", "Sai", "Rohan", "Rahul", "Vikram", "Karthik",
            "Siddharth", "Ananya", "Priya", "Diya", "Aditi", "Kavya", "Shreya", "Isha",
            "Meera", "Pooja", "Neha", "Nikhil", "Anjali", "Deepika", "Lakshmi", "Harish",
            "Suresh", "Ramesh", "Divya", "Sneha", "Varun", "Akshay", "Ishaan", "Tanvi", "Riya",
        ),
        (
            "Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair", "Rao",
            "Menon", "Joshi", "Desai", "Mehta", "Shah", "Chatterjee", "Banerjee", "Mukherjee",
            "Das", "Bose", "Krishnan", "Pillai", "Agarwal", "Verma", "Malhotra", "Kapoor",
            "Bhat", "Kulkarni", "Hegde", "Naidu", "Srinivasan", "Subramanian", "Venkatesh",
        ),
    ),
    "brazilian": (
        (
            "João", "Pedro", "Lucas", "Gabriel", "Matheus", "Rafael", "Gustavo", "Felipe",
            "Bruno", "Thiago", "Leonardo", "Ana", "Beatriz", "Júlia", "Larissa", "Fernanda",
            "Camila", "Mariana", "Letícia", "Gabriela", "Juliana", "Isabela", "Rodrigo",
            "Vinícius", "Caio", "Luana", "Bianca", "Renata", "Otávio", "Tânia",
        ),
        (
            "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves",
            "Pereira", "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida",
            "Lopes", "Soares", "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento",
            "Andrade", "Moreira", "Nunes", "Marques", "Machado", "Mendes", "Freitas",
            "Cardoso", "Teixeira", "Araújo", "Monteiro", "Conceição",
        ),
    ),
    "nigerian": (
        (
            "Chinedu", "Ngozi", "Oluwaseun", "Adebayo", "Chiamaka", "Emeka", "Folake",
            "Ifeoma", "Kelechi", "Tunde", "Yetunde", "Obinna", "Amaka", "Babajide", "Chioma",
            "Damilola", "Funmilayo", "Ikenna", "Nneka", "Olumide", "Temitope", "Uchenna",
            "Zainab", "Aisha", "Ibrahim", "Musa", "Halima", "Abubakar", "Tobi", "Kemi",
        ),
        (
            "Okafor", "Adeyemi", "Okonkwo", "Oluwole", "Eze", "Nwosu", "Balogun", "Okeke",
            "Afolabi", "Chukwu", "Ogunleye", "Obi", "Nwachukwu", "Bello", "Danjuma",
            "Olatunji", "Akinyemi", "Ogundipe", "Okoro", "Uzor", "Iwu", "Adeleke", "Ojo",
            "Babatunde", "Mohammed", "Eniola", "Onuoha", "Adewale",
        ),
    ),
    "kenyan": (
        (
            "Wanjiru", "Njeri", "Achieng", "Wambui", "Akinyi", "Atieno", "Chebet", "Brian",
            "Dennis", "Faith", "Mercy", "Collins", "Victor", "Joy", "Ian", "Amani", "Baraka",
            "Zawadi", "Imani", "Juma",
        ),
        (
            "Kamau", "Otieno", "Mwangi", "Omondi", "Kiprop", "Odhiambo", "Njoroge", "Wafula",
            "Mutua", "Kariuki", "Ochieng", "Waweru", "Kimani", "Onyango", "Cheruiyot",
            "Wekesa", "Maina", "Gitau", "Owino", "Mutiso",
        ),
    ),
    "japanese": (
        (
            "Haruto", "Yuto", "Sota", "Ren", "Hiroshi", "Takumi", "Kenji", "Daiki", "Kaito",
            "Riku", "Yui", "Hina", "Sakura", "Aoi", "Yuna", "Mei", "Rin", "Haruka", "Misaki",
            "Nanami", "Akira", "Shota", "Yuki", "Kana", "Ayaka", "Emi", "Kazuki", "Naoki",
            "Keiko", "Takeshi",
        ),
        (
            "Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto",
            "Nakamura", "Kobayashi", "Kato", "Yoshida", "Yamada", "Sasaki", "Yamaguchi",
            "Matsumoto", "Inoue", "Kimura", "Hayashi", "Shimizu", "Yamazaki", "Mori", "Abe",
            "Ikeda", "Hashimoto", "Ishikawa", "Ogawa", "Fujita", "Okada", "Goto", "Hasegawa",
        ),
    ),
    "chinese": (
        (
            "Wei", "Jie", "Hao", "Xin", "Ming", "Jing", "Yan", "Lei", "Mei Ling", "Jia Hui",
            "Zhi Wei", "Xiao", "Jun", "Hui", "Ling", "Ying", "Kai", "Qing", "Rui", "Tao",
            "Fang", "Ivy", "Kelvin", "Jasmine", "Desmond", "Cheryl", "Vincent", "Grace",
        ),
        (
            "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu",
            "Sun", "Ma", "Zhu", "Hu", "Guo", "Lin", "He", "Gao", "Luo", "Tan", "Lim", "Ng",
            "Goh", "Teo", "Wong", "Lee", "Chua", "Koh", "Ong", "Chan", "Leung", "Cheung",
        ),
    ),
    "korean": (
        (
            "Min-jun", "Seo-yeon", "Ji-ho", "Ha-eun", "Do-yun", "Seo-jun", "Ji-woo", "Soo-ah",
            "Hyun-woo", "Ye-jin", "Jae-won", "Eun-ji", "Tae-yang", "Jin", "Minji", "Sung-min",
            "Da-eun", "Joon-ho", "Hye-jin", "Yuna",
        ),
        (
            "Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han",
            "Oh", "Seo", "Shin", "Kwon", "Hwang", "Ahn", "Song", "Yoo", "Hong",
        ),
    ),
    "vietnamese": (
        ("Minh", "Linh", "Anh", "Thanh", "Huy", "Trang", "Quang", "Mai", "Nam", "Thao", "Duc"),
        ("Nguyen", "Tran", "Le", "Pham", "Hoang", "Vu", "Dang", "Bui", "Do", "Ngo", "Phan"),
    ),
    "filipino": (
        (
            "Maria", "Angelo", "Paolo", "Bea", "Carlo", "Kristine", "Miguel", "Joy", "Rommel",
            "Patricia", "Jericho", "Camille",
        ),
        (
            "Santos", "Reyes", "Cruz", "Bautista", "Ocampo", "Mendoza", "Dela Cruz",
            "Villanueva", "Aquino", "Navarro", "Ramos", "Castro",
        ),
    ),
    "arabic": (
        (
            "Omar", "Ahmed", "Mohammed", "Youssef", "Khalid", "Hassan", "Ali", "Karim",
            "Tariq", "Rami", "Fatima", "Aisha", "Mariam", "Layla", "Noor", "Sara", "Huda",
            "Yasmin", "Rania", "Salma", "Ziad", "Faisal", "Hamza", "Lina", "Dina",
        ),
        (
            "Al-Mansouri", "Haddad", "Khoury", "Nasser", "Saleh", "Farouk", "Hamdan",
            "El-Sayed", "Abdullah", "Aziz", "Rahman", "Qureshi", "Siddiqui", "Al-Hashimi",
            "Mansour", "Darwish", "Karam", "Jaber", "Habib", "Benali",
        ),
    ),
    "dutch": (
        (
            "Daan", "Sem", "Bram", "Sanne", "Femke", "Lotte", "Anouk", "Ruben", "Thijs",
            "Joris", "Floor", "Noor", "Jesse", "Lieke", "Niels", "Eva", "Maarten", "Iris",
        ),
        (
            "de Vries", "van Dijk", "Bakker", "Janssen", "Visser", "Smit", "de Jong", "Meijer",
            "de Boer", "Mulder", "van den Berg", "Dekker", "Vos", "Peters", "Hendriks",
            "van Leeuwen", "Jansen", "Kok",
        ),
    ),
    "swedish": (
        (
            "Lars", "Erik", "Anders", "Johan", "Sven", "Nils", "Oskar", "Axel", "Elin",
            "Astrid", "Ingrid", "Maja", "Freja", "Linnea", "Saga", "Klara", "Jesper", "Ebba",
        ),
        (
            "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
            "Persson", "Svensson", "Lindqvist", "Berg", "Lindberg", "Holm", "Sjöberg",
            "Lundgren", "Åberg",
        ),
    ),
    "polish": (
        (
            "Jakub", "Kacper", "Szymon", "Mateusz", "Piotr", "Tomasz", "Krzysztof", "Michał",
            "Paweł", "Łukasz", "Zofia", "Julia", "Katarzyna", "Agnieszka", "Magdalena",
            "Aleksandra", "Joanna", "Małgorzata", "Wojciech", "Marta", "Karolina", "Bartosz",
        ),
        (
            "Nowak", "Wójcik", "Kowalczyk", "Woźniak", "Mazur", "Krawczyk", "Kaczmarek",
            "Zając", "Król", "Wieczorek", "Wróbel", "Stępień", "Dudek", "Adamczyk", "Pawlak",
            "Sikora", "Baran", "Michalak", "Szewczyk",
        ),
    ),
}  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Places: (city, country, location as a member would type it, weight, {name pool: weight}).
# Austin is the biggest chapter; about 3% of members leave their location blank.

PLACES: tuple[tuple[str, str, str, int, dict[str, int]], ...] = (
    ("Austin", "United States", "Austin, TX", 240,
     {"english": 55, "spanish": 20, "indian": 10, "chinese": 6, "korean": 3, "vietnamese": 3,
      "nigerian": 3}),
    ("San Francisco", "United States", "San Francisco, CA", 110,
     {"english": 40, "chinese": 18, "indian": 18, "spanish": 10, "korean": 5, "vietnamese": 4,
      "filipino": 5}),
    ("New York", "United States", "New York, NY", 110,
     {"english": 45, "spanish": 18, "chinese": 10, "indian": 10, "korean": 5, "nigerian": 5,
      "arabic": 3, "polish": 4}),
    ("Seattle", "United States", "Seattle, WA", 60,
     {"english": 50, "indian": 20, "chinese": 15, "vietnamese": 8, "korean": 7}),
    ("Toronto", "Canada", "Toronto, ON", 80,
     {"english": 40, "chinese": 18, "indian": 18, "filipino": 6, "korean": 6, "arabic": 6,
      "polish": 6}),
    ("London", "United Kingdom", "London, UK", 130,
     {"english": 55, "indian": 18, "nigerian": 10, "polish": 6, "arabic": 5, "french": 3,
      "chinese": 3}),
    ("Berlin", "Germany", "Berlin, Germany", 120,
     {"german": 70, "english": 8, "polish": 7, "french": 4, "arabic": 5, "swedish": 3,
      "spanish": 3}),
    ("Paris", "France", "Paris, France", 80,
     {"french": 80, "arabic": 10, "english": 4, "spanish": 3, "vietnamese": 3}),
    ("Amsterdam", "Netherlands", "Amsterdam, Netherlands", 50,
     {"dutch": 65, "english": 10, "german": 8, "indian": 7, "arabic": 5, "spanish": 5}),
    ("Stockholm", "Sweden", "Stockholm, Sweden", 35,
     {"swedish": 80, "english": 5, "arabic": 8, "polish": 4, "german": 3}),
    ("Warsaw", "Poland", "Warsaw, Poland", 35, {"polish": 92, "english": 4, "german": 4}),
    ("Madrid", "Spain", "Madrid, Spain", 45,
     {"spanish": 85, "english": 5, "french": 5, "arabic": 5}),
    ("Bengaluru", "India", "Bengaluru, India", 150, {"indian": 98, "english": 2}),
    ("São Paulo", "Brazil", "São Paulo, Brazil", 100,
     {"brazilian": 85, "japanese": 6, "spanish": 4, "german": 3, "arabic": 2}),
    ("Mexico City", "Mexico", "Mexico City, Mexico", 55, {"spanish": 95, "english": 5}),
    ("Buenos Aires", "Argentina", "Buenos Aires, Argentina", 35,
     {"spanish": 90, "german": 5, "english": 5}),
    ("Lagos", "Nigeria", "Lagos, Nigeria", 90, {"nigerian": 97, "english": 3}),
    ("Nairobi", "Kenya", "Nairobi, Kenya", 45, {"kenyan": 90, "indian": 6, "english": 4}),
    ("Singapore", "Singapore", "Singapore", 70,
     {"chinese": 60, "indian": 18, "filipino": 7, "vietnamese": 5, "english": 10}),
    ("Tokyo", "Japan", "Tokyo, Japan", 80, {"japanese": 92, "english": 5, "korean": 3}),
    ("Seoul", "South Korea", "Seoul, South Korea", 40, {"korean": 95, "english": 5}),
    ("Sydney", "Australia", "Sydney, Australia", 55,
     {"english": 60, "chinese": 14, "indian": 10, "vietnamese": 8, "korean": 4, "spanish": 4}),
    ("Dubai", "United Arab Emirates", "Dubai, UAE", 30,
     {"arabic": 50, "indian": 30, "english": 10, "filipino": 10}),
    ("", "", "", 60,
     {"english": 30, "indian": 15, "spanish": 15, "german": 10, "french": 10, "brazilian": 10,
      "chinese": 10}),
)  # fmt: skip

UNIVERSITIES = {
    "Austin": "UT Austin",
    "Berlin": "TU Berlin",
    "London": "Imperial College London",
    "Bengaluru": "IISc Bengaluru",
    "São Paulo": "Universidade de São Paulo",
    "Lagos": "University of Lagos",
    "Toronto": "University of Toronto",
    "Paris": "Sorbonne Université",
    "Singapore": "NUS",
    "Tokyo": "University of Tokyo",
    "Seoul": "Seoul National University",
    "Nairobi": "University of Nairobi",
    "Mexico City": "UNAM",
}

# ---------------------------------------------------------------------------------------------
# Work: a few big employers, a long tail of small ones.

JOB_TITLES: dict[str, int] = {
    "Software Engineer": 22,
    "Product Manager": 9,
    "Product Designer": 8,
    "Data Scientist": 7,
    "Student": 7,
    "Engineering Manager": 6,
    "DevOps Engineer": 6,
    "Community Manager": 5,
    "Founder": 5,
    "Marketing Manager": 5,
    "Solutions Architect": 5,
    "UX Researcher": 4,
    "Developer Advocate": 4,
    "CTO": 3,
    "Technical Writer": 3,
}

BIG_COMPANIES: dict[str, int] = {
    "Acme": 160,
    "Globex": 90,
    "Initech": 70,
    "Contoso": 55,
    "Hooli": 45,
    "Northwind": 35,
    "Vandelay Industries": 25,
}

_COMPANY_PREFIXES = (
    "Blue", "Bright", "Cedar", "Copper", "Crimson", "Delta", "Ember", "Falcon", "Fern",
    "Granite", "Harbor", "Indigo", "Juniper", "Kite", "Lumen", "Maple", "Meridian", "Nimbus",
    "North", "Oak", "Orbit", "Pine", "Quartz", "River", "Sable", "Signal", "Silver", "Solar",
    "Spruce", "Stone", "Summit", "Tidal", "Vector", "Willow", "Zephyr", "Atlas", "Beacon",
    "Cobalt", "Drift", "Echo",
)  # fmt: skip
_COMPANY_SUFFIXES = (
    "Labs", "Analytics", "Health", "Robotics", "Systems", "Software", "Studio", "AI", "Data",
    "Cloud", "Works", "Bio", "Pay", "Logistics", "Security", "Learning", "Networks", "Energy",
    "Commerce", "Games",
)  # fmt: skip
SMALL_COMPANY_COUNT = 260

_INTERESTS = (
    "Into design systems and accessibility.",
    "Writes about data pipelines and the people who run them.",
    "Organizes the local meetup.",
    "Loves developer tooling and fast feedback loops.",
    "Mentors people moving into tech.",
    "Speaks at community events now and then.",
    "Learning Rust on weekends.",
    "Open source maintainer.",
    "Happiest when a hard problem gets simple.",
    "Runs on coffee and curiosity.",
    "Asks a lot of questions, answers a few.",
    "Building in public.",
    "Ex-consultant, still drawing boxes and arrows.",
    "Cares about docs that people actually read.",
    "Here to learn from everyone.",
    "Climber, cyclist, occasional baker.",
    "Always happy to review a portfolio.",
    "Exploring LLMs in production.",
    "Hosts the monthly AMA.",
    "Part-time teacher, full-time nerd.",
)


# ---------------------------------------------------------------------------------------------


def demo_members(now: datetime, count: int = DEMO_MEMBER_COUNT) -> list[dict[str, Any]]:
    """`count` members as dicts of Member field values, plus `external_id` for their Identity.

    Everything but the dates is the same on every call; dates are offsets back from `now`.
    """
    # Not for security: a fixed seed so that every demo has the same people.
    rng = random.Random(DEMO_SEED)  # noqa: S311
    small_companies = _small_companies(rng)
    companies = [*BIG_COMPANIES, *small_companies]
    company_weights = [*BIG_COMPANIES.values(), *(rng.randint(1, 4) for _ in small_companies)]
    titles, title_weights = list(JOB_TITLES), list(JOB_TITLES.values())
    place_weights = [place[3] for place in PLACES]
    emails: set[str] = set()

    members = []
    for n in range(1, count + 1):
        city, country, location, _, pools = rng.choices(PLACES, place_weights)[0]
        first_names, last_names = NAME_POOLS[_pick(rng, pools)]
        first, last = rng.choice(first_names), rng.choice(last_names)
        title = "" if rng.random() < 0.02 else rng.choices(titles, title_weights)[0]
        if title == "Student":
            company = UNIVERSITIES.get(city, "") if rng.random() < 0.7 else ""
        elif title in ("Founder", "CTO"):
            company = rng.choice(small_companies)
        elif rng.random() < 0.06:
            company = ""
        else:
            company = rng.choices(companies, company_weights)[0]
        joined_at, last_seen_at = _dates(rng, now)
        members.append(
            {
                "external_id": f"{DEMO_SOURCE}-{n}",
                "name": f"{first} {last}",
                "email": _email(rng, first, last, company, emails),
                "company_name": company,
                "job_title": title,
                "location": location,
                "city": city,
                "country": country,
                "bio": _bio(rng, title, company, city),
                "joined_at": joined_at,
                "last_seen_at": last_seen_at,
            }
        )
    return members


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _small_companies(rng: random.Random) -> list[str]:
    names = [f"{p} {s}" for p in _COMPANY_PREFIXES for s in _COMPANY_SUFFIXES]
    return sorted(rng.sample(names, SMALL_COMPANY_COUNT))


def _dates(rng: random.Random, now: datetime) -> tuple[datetime, datetime | None]:
    """Joined over the last three years (a growing community: slightly more recent joins);
    last seen after joining, mostly recently, never for about 5%."""
    three_years = 3 * 365 * 86400
    joined_ago = max(3600, int(three_years * rng.random() ** 1.1))
    habit = rng.random()
    if habit < 0.45:  # regulars
        seen_ago = rng.expovariate(1 / (10 * 86400))
    elif habit < 0.75:  # occasional
        seen_ago = rng.expovariate(1 / (60 * 86400))
    else:  # drifted away at some point
        seen_ago = joined_ago * rng.random()
    seen_ago = int(seen_ago)
    if seen_ago >= joined_ago:
        seen_ago = int(joined_ago * rng.random())
    never_seen = rng.random() < 0.05
    joined_at = now - timedelta(seconds=joined_ago)
    return joined_at, None if never_seen else now - timedelta(seconds=seen_ago)


_TRANSLITERATE = str.maketrans({"ß": "ss", "ł": "l", "Ł": "L", "ø": "o", "æ": "ae", "đ": "d"})


def _ascii(text: str) -> str:
    """'Jürgen' -> 'jurgen', "O'Brien" -> 'obrien', 'van den Berg' -> 'vandenberg'."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE))
    return "".join(c for c in decomposed.lower() if c.isascii() and c.isalnum())


def _email(rng: random.Random, first: str, last: str, company: str, taken: set[str]) -> str:
    if rng.random() < 0.06:
        return ""
    f, la = _ascii(first), _ascii(last)
    local = _choose(
        rng,
        [
            (f"{f}.{la}", 45),
            (f"{f}{la}", 10),
            (f"{f[0]}{la}", 15),
            (f"{f}_{la}", 5),
            (f"{la}.{f}", 5),
            (f"{f}{rng.randint(70, 99)}", 10),
            (f"{f}.{la}{rng.randint(1, 99)}", 10),
        ],
    )
    if company and rng.random() < 0.45:
        domain = f"{_ascii(company)}.example"
    else:
        domain = _choose(rng, [("example.com", 50), ("example.org", 25), ("example.net", 25)])
    email = f"{local}@{domain}"
    suffix = 2
    while email in taken:
        email = f"{local}{suffix}@{domain}"
        suffix += 1
    taken.add(email)
    return email


def _choose(rng: random.Random, options: Sequence[tuple[str, int]]) -> str:
    return rng.choices([o for o, _ in options], [w for _, w in options])[0]


def _bio(rng: random.Random, title: str, company: str, city: str) -> str:
    if rng.random() >= 0.4:
        return ""
    interest = rng.choice(_INTERESTS)
    if title == "Student":
        where = f" at {company}" if company else ""
        return f"Studying computer science{where}. {interest}"
    if title and company:
        return f"{title} at {company}. {interest}"
    if title and city:
        return f"{title} based in {city}. {interest}"
    return interest
