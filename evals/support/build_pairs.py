"""Build evals/support/pairs.jsonl: labelled claim-passage pairs for the support checker.

Run `python evals/support/build_pairs.py`; the output is deterministic (fixed seed, sorted
sources), so re-running it reproduces the committed file byte for byte.

Sources: the seed article in corpus/ and the MultiHop-RAG evidence excerpts
(`../shared/bench/multihop-rag/articles.jsonl` beside the repository, one sentence per line
of `body`). A passage is one sentence or two to three consecutive sentences, copied verbatim.

Supported claims:
  restatement  a clause (or the whole sentence) of the passage, verbatim
  paraphrase   hand-written below: reworded, reordered, numbers spelled differently
Unsupported claims:
  number_swap  one number changed to a value the passage never mentions
  date_swap    a year, month, weekday or day of the month changed
  name_swap    a capitalised name replaced by a name from elsewhere in the corpus
  role_swap    hand-written: who did what to whom reversed
  negation     a negation added or removed (automatic and hand-written)
  added_fact   hand-written: a plausible detail the passage does not contain

The split is a hash of the passage text, so a passage never appears in both splits.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rag.text.sentences import sentence_spans  # noqa: E402

SEED_PATH = ROOT / "corpus" / "000_4289d46f5f19964e.txt"
MULTIHOP_PATH = ROOT.parent / "shared" / "bench" / "multihop-rag" / "articles.jsonl"
OUT_PATH = Path(__file__).resolve().with_name("pairs.jsonl")
RNG_SEED = 20240417

# Hand-written pairs: (anchor, sentences, claim). The anchor is a unique substring of
# the passage's first sentence; the passage is that sentence and the next ones, up to
# `sentences` in all.
Hand = tuple[str, int, str]

PARAPHRASES: list[Hand] = [
    # seed article
    ("What we can say is that", 2,
     "Peter Stano said the EU takes note of the announced withdrawal of Russian troops from "
     "Azerbaijan."),
    ("What we can say is that", 2,
     "According to EU spokesperson Peter Stano, the EU remains committed to supporting the "
     "peace process between Armenia and Azerbaijan."),
    ("What we can say is that", 2,
     "Azerbaijan's Turan news agency quoted Peter Stano on Thursday."),
    ("Moscow and Baku confirmed", 1,
     "The withdrawal of Russian peacekeepers from Nagorno-Karabakh started on April 17, Moscow "
     "and Baku confirmed."),
    ("Moscow and Baku confirmed", 1,
     "Roughly 2000 Russian peacekeepers had been deployed in Nagorno-Karabakh since November "
     "2020."),
    ("Moscow and Baku confirmed", 1,
     "The peacekeepers were deployed under a trilateral ceasefire agreement that ended a "
     "six-week war between Armenia and Azerbaijan."),
    ("Moscow and Baku confirmed", 1,
     "About two thousand Russian peacekeepers had been in Nagorno-Karabakh from November 2020."),
    ("The Russian peacekeepers were deployed for a period", 1,
     "Russian peacekeepers were sent for 5 years, with the possibility of extending their "
     "stay."),
    ("The Russian peacekeepers were deployed for a period", 1,
     "The peacekeepers were there to protect the local Armenian population and a corridor "
     "connecting the region with Armenia."),
    ("Azerbaijan, however, established", 1,
     "Azerbaijan imposed a blockade lasting ten months on the Armenians of Nagorno-Karabakh."),
    ("Azerbaijan, however, established", 1,
     "In late 2022 Azerbaijan established its presence on the Lachin Corridor road."),
    ("continued presence in the region became", 1,
     "More than 100,000 Armenians left Nagorno-Karabakh for Armenia after Azerbaijan's "
     "one-day military operation last September."),
    ("continued presence in the region became", 1,
     "Virtually the entire population of Nagorno-Karabakh, over 100 thousand Armenians, moved "
     "to Armenia."),
    ("Hikmet Hajiyev, Azerbaijani President", 3,
     "Hikmet Hajiyev, a top aide to President Ilham Aliyev, said the leaders of both countries "
     "made the decision on the early withdrawal of Russian peacekeepers."),
    ("Hikmet Hajiyev, Azerbaijani President", 3,
     "On April 17 Hajiyev added that the defense ministries of Azerbaijan and Russia are "
     "taking steps to implement the decision."),
    ("Citing sources at the Ministry", 1,
     "Azerbaijani media reported that the joint Russian-Turkish monitoring center in Agdam "
     "would cease its activities."),
    ("Citing sources at the Ministry", 1,
     "The Russian-Turkish monitoring center in Agdam was set up in January 2021."),
    ("Yerevan has blamed the Russian", 2,
     "Yerevan blamed the Russian peacekeepers for not defending the Armenians of "
     "Nagorno-Karabakh."),
    ("Yerevan has blamed the Russian", 2,
     "Russia has blamed Armenian Prime Minister Nikol Pashinian for recognizing "
     "Nagorno-Karabakh as part of Azerbaijan."),
    ("Yerevan has blamed the Russian", 2,
     "Armenian officials have repeatedly dismissed the claim that Pashinian recognized "
     "Nagorno-Karabakh as part of Azerbaijan."),
    ("Baku has all along insisted", 1,
     "Baku insists that Karabakh is Azerbaijani territory where Russian peacekeepers are "
     "stationed only temporarily."),
    ("Official Yerevan has not yet commented", 1,
     "Yerevan has not yet officially commented on the withdrawal of the Russian peacekeepers."),
    ("Official Yerevan has not yet commented", 1,
     "Only about 12 ethnic Armenians remain in Nagorno-Karabakh."),
    ("Commenting on the development at a press", 1,
     "Vedant Patel of the U.S. Department of State said the United States was not party to "
     "the 2020 trilateral arrangement that ended the fighting in Nagorno-Karabakh."),
    ("Commenting on the development at a press", 1,
     "At a press briefing in Washington on April 17, deputy spokesperson Vedant Patel "
     "commented on the development."),
    ("Beyond that, we strongly support", 1,
     "Patel said they strongly support efforts by Armenia and Azerbaijan to reach a durable "
     "and dignified peace."),
    ("Frankly, we’ve not seen anything", 2,
     "Patel said Russia is not a trustworthy ally or partner."),
    ("Frankly, we’ve not seen anything", 2,
     "He said there was no sign that Russia's military was contributing to a more peaceful "
     "and stable South Caucasus."),
    # MultiHop-RAG excerpts
    ("Amazon tumbled 4 per cent", 1,
     "Amazon shares fell 4% after the FTC and 17 state attorneys general filed an antitrust "
     "lawsuit against it."),
    ("The Justice Department is focused on the deals", 1,
     "The Justice Department is focused on deals Google makes with Apple, Samsung, Mozilla and "
     "others so that it is the default search engine on almost every platform."),
    ("Certainly there wasn’t a valid alternative", 1,
     "Cue said there was no valid alternative to Google at the time."),
    ("Over the next six months Google", 1,
     "Google's report says it has no additional measures planned for YouTube in the next six "
     "months."),
    ("OpenAI announced that GPT-4 with vision", 1,
     "GPT-4 with vision will become available together with the launch of the GPT-4 Turbo "
     "API, OpenAI announced."),
    ("ChatGPT is a general-purpose chatbot", 1,
     "ChatGPT, developed by the startup OpenAI, is a general-purpose chatbot that uses "
     "artificial intelligence to generate text from a user's prompt."),
    ("Is laying off more than 10%", 1,
     "CEO Jeffrey Hirsch announced on November 3 that the company is laying off over 10% of "
     "its staff before spinning out from Lionsgate."),
    ("Sales in its Latin America", 1,
     "Sales in the Latin America and Asia Pacific unit rose 2% to $1.57 billion, slightly "
     "below the $1.59 billion analysts expected."),
    ("The company's reported net income", 1,
     "Net income for the quarter that ended August 31 was $1.45 billion, or 94 cents a share, "
     "compared with $1.47 billion a year earlier."),
    ("Bayern earned a 57th-minute penalty", 1,
     "Kane scored his eighth league goal from a 57th-minute penalty that Bayern earned for a "
     "handball."),
    ("The highly anticipated criminal trial", 1,
     "The criminal trial of former FTX CEO Sam Bankman-Fried started on Tuesday, with seven "
     "counts of fraud and conspiracy at stake."),
    ("Around the same time it was exposed", 1,
     "Binance, the largest crypto exchange in the world, started pulling out its remaining "
     "$2.1 billion in BUSD and FTT."),
    ("The Fed’s main interest rate is at its highest", 1,
     "The Fed's main interest rate is at its highest level since 2001."),
    ("The Fed’s main interest rate is at its highest", 1,
     "The central bank signalled last week that it may cut interest rates next year by less "
     "than it previously expected."),
    ("The Chiefs faced a 3rd & 22", 1,
     "Facing 3rd & 22, Mahomes ran up the middle for a 24-yard gain and a first down."),
    ("The Chiefs took the lead on a field goal", 1,
     "Kansas City won 23-20 after a crucial turnover by Jets QB Zach Wilson."),
    ("SBF, as he’s known, has pleaded", 1,
     "SBF has pleaded not guilty to seven charges of fraud and conspiracy."),
    ("Lionel Messi's arrival at Inter Miami", 1,
     "Messi's arrival at Inter Miami has created a craze among fans who want a glimpse of one "
     "of the sport's most talented players."),
    ("The most expensive premium packages at Inter Miami", 1,
     "Inter Miami's most expensive premium packages in 2024 will cost supporters more than "
     "$45,000."),
    ("Then, on October 17, the U.S. will travel", 1,
     "The U.S. will play Ghana in a friendly at GEODIS Park in Nashville on October 17."),
    ("Israeli Prime Minister Benjamin Netanyahu said", 1,
     "Benjamin Netanyahu said Israel was at war and that its first objective was to clear out "
     "the hostile forces that had infiltrated its territory."),
    ("Around 2019 or 2020, Wang checked", 1,
     "Wang found around 2019 or 2020 that Alameda was negative by roughly $200 million, more "
     "than the $150 million FTX made in revenue."),
    ("Messi, who had missed the last four games", 1,
     "After missing four games through injury, Messi came off the bench and played 35 "
     "minutes."),
    ("Alvaro Barreal’s 78th-minute goal", 1,
     "Alvaro Barreal scored in the 78th minute, and with CF Montreal beating Portland 4-1, "
     "Inter Miami are out of the postseason."),
    ("Diokno said the Finance department aims", 1,
     "The Finance department wants to cut new debt from P1.42 trillion in 2022 to P1.22 "
     "trillion in 2024, Diokno said."),
    ("Shares of Rogers extended losses", 1,
     "Rogers shares closed 2.2% lower at C$53.07 in Toronto after news of the lawsuit."),
    ("Israel stopped allowing deliveries", 1,
     "On Oct. 10, 2023, Israel stopped deliveries of food, fuel and other supplies to the 2.3 "
     "million residents of Gaza."),
    ("On Oct. 12, 2023, Israel warned", 1,
     "On October 12, 2023 Israel warned 1.1 million residents of northern Gaza to leave for "
     "the south ahead of a potential ground invasion."),
    ("Ninety-four percent of business leaders", 1,
     "94% of business leaders agree AI will be critical to the success of all businesses over "
     "the next five years."),
    ("Ninety-four percent of business leaders", 1,
     "Global spending on AI is expected to reach $154 billion by the end of this year, up 27% "
     "from 2022."),
    ("The group reported $76 million", 1,
     "Subscription revenue was $76 million in 2021, up from nearly $7 million in 2019."),
    ("She praised her and Will’s two children", 1,
     "She praised her children Jaden, 25, and Willow, 22, as her little gurus."),
    ("Hundreds of women have filed lawsuits against Uber", 1,
     "Hundreds of women are suing Uber, claiming it has not done enough to prevent sexual "
     "assault by drivers."),
    ("The ride-hail company claims", 2,
     "Uber says the rate of reported sexual assault on its app fell 38% between its first and "
     "second reports."),
    ("Founders, investors and others from the technology", 1,
     "Israeli tech founders and investors have gone ballistic over Web Summit founder Paddy "
     "Cosgrave's criticism of Israel's retaliatory actions."),
    ("Six catches for 163 yards", 1,
     "Tyreek Hill had 812 yards through six games after six catches for 163 yards and a "
     "touchdown against Carolina."),
    ("In a Los Angeles court hearing", 1,
     "At a Los Angeles court hearing Spears alleged that she had been forced to take lithium "
     "against her will."),
    ("The Big Ten suspended coach Jim Harbaugh", 1,
     "On Friday the Big Ten suspended Michigan coach Jim Harbaugh for three games."),
    ("In the third quarter, Uber generated", 1,
     "Uber made $394 million in operating income and $219 million in net income in the third "
     "quarter."),
    ("Since the original Steam Deck launched", 1,
     "Valve estimates it has improved the Steam Deck hardware through around 300 updates since "
     "launch."),
    ("The Steam Deck OLED will go on sale", 1,
     "Valve will start selling the Steam Deck OLED on November 16th at 1pm ET."),
    ("Since it was uploaded, the video has garnered", 1,
     "The video has garnered over 2.7 million views and 5,952 comments, one of them from "
     "Taylor Swift."),
    ("The biggest carriers posted net income", 1,
     "The biggest carriers earned a combined $364 billion in net income in 2021 and 2022, "
     "according to figures from John McCown."),
    ("Aston Villa moved to fifth", 1,
     "Aston Villa beat Fulham 3-1 at Villa Park to move to fifth, three points off the top."),
    ("Binance launched in June 2017", 1,
     "Within 180 days of its June 2017 launch, Binance became the largest crypto exchange in "
     "the world."),
    ("Unlike FTX, which filed for bankruptcy", 1,
     "Zhao agreed to step down as CEO of Binance as part of the plea deal."),
    ("ChatGPT also notched 100 million users", 1,
     "ChatGPT reached 100 million users per day in March, thirty times more than two months "
     "earlier."),
    ("Altman’s exit “is indeed shocking", 1,
     "Gartner analyst Arun Chandrasekaran called Altman's exit shocking."),
    ("While not trained as an AI engineer, Altman", 1,
     "Altman, 38, is not a trained AI engineer but has been seen as a Silicon Valley "
     "wunderkind since his early 20s."),
    ("Manchester United are out of Europe", 1,
     "Kingsley Coman sealed a 1-0 win for Bayern at Old Trafford, and Manchester United are "
     "out of Europe."),
    ("Goals from West Ham’s Jarrod Bowen", 1,
     "Jarrod Bowen and Mohammed Kudus scored for West Ham, extending Manchester United's "
     "miserable run in the Premier League."),
    ("It’s estimated that more than 9,000 people", 1,
     "More than 9,000 people in video games are estimated to have been laid off this year."),
    ("Tyreek Hill had two touchdowns", 1,
     "Tyreek Hill scored two touchdowns and had 157 receiving yards as the Miami Dolphins "
     "routed the Washington Commanders."),
    ("Murray is trying to restart", 1,
     "Murray slipped to world No.42 during a disappointing 2023."),
    ("OpenAI was founded in late 2015", 1,
     "OpenAI was founded in late 2015, a few months after he met Altman at the Rosewood hotel."),
    ("There was no attempt to remove Sam Altman", 1,
     "Anthropic spokesperson Sally Aldous said the co-founders of Anthropic did not try to "
     "remove Sam Altman from OpenAI."),
    ("Google compared the performance of Gemini Pro", 1,
     "Google compared Gemini Pro with GPT-3.5, the roughly year-old predecessor of GPT-4."),
    ("Every year, Thanksgiving is celebrated", 1,
     "Thanksgiving is on the fourth Thursday of November, which falls on 23 November this "
     "year."),
    ("Right now, the best price around is at Best Buy", 1,
     "Best Buy has the best price at $89.99, which is $60 off."),
    ("McTominay is now United's top scorer", 1,
     "With six goals, McTominay is United's top scorer this season, one ahead of Bruno "
     "Fernandes and Rasmus Hojlund."),
    ("Philadelphia rolled to a 31-17 win", 1,
     "Philadelphia beat Miami 31-17 on Sunday Night Football, keeping the Dolphins off the "
     "scoreboard in the second half."),
    ("Washington beat Oregon in the Pac-12", 1,
     "Oregon's loss to Washington in the Pac-12 championship on Friday knocked the Ducks out "
     "of the CFP picture."),
    ("Prime members can get One-Day Delivery", 1,
     "Prime members can get Two-Day Delivery through December 22nd and One-Day Delivery "
     "through December 23rd on eligible products."),
    ("Cardholders can get 20% back", 1,
     "Cardholders get 20% back as a statement credit on eligible in-flight food, alcoholic "
     "beverages and audio headsets bought on Delta flights."),
    ("Lee was hampered by injury in 2023", 1,
     "In 2022 Lee hit a career-best 23 home runs along with 36 doubles and 10 triples."),
    ("Soto overcame a relatively slow start", 1,
     "Soto hit 35 home runs this year with a .275/.410/.519 line."),
    ("The Ravens defense has allowed the fewest points", 1,
     "The Ravens defense allows 16.1 points per game, the fewest this season."),
    ("The tour, which is projected by Pollstar", 1,
     "Pollstar projects that the tour will gross some $1.4 billion."),
    ("It was 24 September, Chelsea’s second home", 1,
     "On 24 September Chelsea were booed off after their second straight home Premier League "
     "defeat."),
    ("Smith guided Oregon State to seven victories", 1,
     "Smith led Oregon State to seven wins in 2021 after the program went 9-22 in his first "
     "three years."),
    ("King recently launched the production company", 1,
     "King, a 39-time Grand Slam winner, recently launched a production company called "
     "Pressure is a Privilege."),
    ("Meanwhile, the 13.6-inch MacBook Air", 1,
     "The 13.6-inch MacBook Air is $899 at Best Buy but is not discounted on Amazon."),
    ("The second-gen AirPods are down to $80", 1,
     "Amazon and Target sell the second-gen AirPods for $80, roughly $20 below their usual "
     "street price."),
    ("Beeper Mini was made possible", 1,
     "The team behind Beeper Mini says it reverse-engineered the iMessage protocol to make the "
     "app possible."),
    ("Wang testified that he heard Bankman-Fried", 1,
     "Wang testified that Bankman-Fried told a trader it was okay to keep withdrawing money "
     "from the account as long as the amount was below FTX's total trading revenue."),
    ("The second week of the trial’s standout testimony", 1,
     "Caroline Ellison testified that she took $14 billion from customers to repay lenders "
     "under the instruction of SBF."),
    ("Postponements of such reports could complicate", 1,
     "Postponed reports could complicate things for the Fed, which says it will base upcoming "
     "rate decisions on incoming data about the economy."),
    ("Stocks surged through the week", 1,
     "Stocks surged during the week on hopes that the Federal Reserve is done with its hikes to "
     "interest rates."),
    ("Apple has an established pattern of waiting", 1,
     "Apple tends to wait and learn from other companies' failures, then arrive with a refined "
     "and polished take."),
    ("Kenneth Walker III (Seahawks) took four carries", 1,
     "Kenneth Walker III of the Seahawks left with an oblique injury after four carries "
     "against the Rams."),
]

ADDED_FACTS: list[Hand] = [
    ("Moscow and Baku confirmed", 1,
     "Moscow and Baku confirmed on April 17 the start of the withdrawal of Russian "
     "peacekeepers, which is due to be completed by the end of the year."),
    ("What we can say is that", 2,
     "The EU said it would send its own monitors to replace the Russian troops in Azerbaijan."),
    ("The Russian peacekeepers were deployed for a period", 1,
     "The Russian peacekeepers were deployed for five years and their costs were covered by "
     "the Azerbaijani government."),
    ("Azerbaijan, however, established", 1,
     "Azerbaijan took control of the Lachin Corridor after a court ruling in its favour."),
    ("continued presence in the region became", 1,
     "More than 100,000 Armenians moved to Armenia, where most of them were housed in "
     "temporary camps near Yerevan."),
    ("Hikmet Hajiyev, Azerbaijani President", 1,
     "Hikmet Hajiyev said the withdrawal of the Russian peacekeepers would take about six "
     "weeks."),
    ("Citing sources at the Ministry", 1,
     "The joint Russian-Turkish monitoring center in Agdam employed about 60 officers from each "
     "country."),
    ("Yerevan has blamed the Russian", 1,
     "Yerevan has blamed the Russian peacekeepers for failing to defend the Armenians and has "
     "demanded compensation from Moscow."),
    ("Commenting on the development at a press", 1,
     "Vedant Patel said the United States would provide humanitarian aid to the refugees from "
     "Nagorno-Karabakh."),
    ("Baku has all along insisted", 1,
     "Baku insists that Karabakh is Azerbaijani territory and plans to resettle displaced "
     "families there."),
    ("Official Yerevan has not yet commented", 1,
     "Yerevan has not commented on the withdrawal, but the parliament is expected to debate it "
     "soon."),
    ("Beyond that, we strongly support", 1,
     "Patel said Washington would host the next round of peace talks between Armenia and "
     "Azerbaijan."),
    ("Amazon tumbled 4 per cent", 1,
     "Amazon tumbled 4 per cent after the antitrust lawsuit, its worst day since the pandemic."),
    ("OpenAI announced that GPT-4 with vision", 1,
     "OpenAI announced that GPT-4 with vision will be free for every ChatGPT user."),
    ("SBF, as he’s known, has pleaded", 1,
     "SBF has pleaded not guilty to seven charges of fraud and conspiracy and faces decades in "
     "prison."),
    ("Israeli Prime Minister Benjamin Netanyahu said", 1,
     "Netanyahu said Israel was at war and called up reservists to the southern border."),
    ("Is laying off more than 10%", 1,
     "The company is laying off more than 10% of its staff, mostly in its marketing "
     "department."),
    ("Shares of Rogers extended losses", 1,
     "Shares of Rogers extended losses on news of the lawsuit, which was filed by the "
     "Competition Bureau."),
    ("Binance launched in June 2017", 1,
     "Binance launched in June 2017 in Shanghai and soon became the largest crypto exchange."),
    ("The Steam Deck OLED will go on sale", 1,
     "The Steam Deck OLED will go on sale on November 16th with a longer battery life than "
     "the original."),
    ("ChatGPT is a general-purpose chatbot", 1,
     "ChatGPT is a general-purpose chatbot developed by OpenAI and funded mainly by "
     "Microsoft."),
    ("The Big Ten suspended coach Jim Harbaugh", 1,
     "The Big Ten suspended Jim Harbaugh over a sign-stealing scheme run by his staff."),
    ("Messi, who had missed the last four games", 1,
     "Messi returned from a hamstring strain to play 35 minutes off the bench."),
    ("Tyreek Hill had two touchdowns", 1,
     "Tyreek Hill had two touchdowns and set a franchise record in the rout of the "
     "Commanders."),
    ("Israel stopped allowing deliveries", 1,
     "Israel stopped deliveries of food and fuel to Gaza after the United Nations failed to "
     "agree on a resolution."),
    ("Lionel Messi's arrival at Inter Miami", 1,
     "Messi's arrival at Inter Miami has tripled the club's season ticket sales."),
    ("Hundreds of women have filed lawsuits against Uber", 1,
     "Hundreds of women have filed lawsuits against Uber, and the company has agreed to settle "
     "most of them."),
    ("The Chiefs took the lead on a field goal", 1,
     "The Chiefs won 23-20 thanks to a late field goal by their rookie kicker."),
    ("Aston Villa moved to fifth", 1,
     "Aston Villa moved to fifth with a 3-1 win over Fulham, their tenth straight home "
     "victory."),
    ("The tour, which is projected by Pollstar", 1,
     "The tour, which is projected to gross $1.4 billion, will be extended into Asia next "
     "year."),
    ("Beeper Mini was made possible", 1,
     "Beeper Mini reverse-engineered the iMessage protocol, and Apple has threatened to sue "
     "the developers."),
    ("It’s estimated that more than 9,000 people", 1,
     "More than 9,000 people in video games were laid off this year, most of them at large "
     "publishers."),
    ("Google compared the performance of Gemini Pro", 1,
     "Google compared Gemini Pro to GPT-3.5 and found it faster on every benchmark."),
    ("Murray is trying to restart", 1,
     "Murray is trying to restart his momentum after hip surgery forced him out for months."),
    ("OpenAI was founded in late 2015", 1,
     "OpenAI was founded in late 2015 as a non-profit with a billion dollars in pledges."),
    ("In the third quarter, Uber generated", 1,
     "Uber generated $394 million in operating income in the third quarter, its first "
     "profitable quarter ever."),
    ("Prime members can get One-Day Delivery", 1,
     "Prime members can get One-Day Delivery for eligible products through December 23rd, "
     "including weekend delivery in most cities."),
    ("Every year, Thanksgiving is celebrated", 1,
     "Thanksgiving falls on 23 November this year, and most stores will close early that "
     "evening."),
    ("The Justice Department is focused on the deals", 1,
     "The Justice Department is focused on Google's default search deals, which it says cost "
     "consumers higher prices."),
    ("Kenneth Walker III (Seahawks) took four carries", 1,
     "Kenneth Walker III left the game against the Rams with an oblique injury and will miss "
     "two weeks."),
    ("Altman has been telling investors", 1,
     "Altman has been telling investors that he plans to launch a new venture building AI "
     "chips."),
    ("ChatGPT also notched 100 million users", 1,
     "ChatGPT notched 100 million users per day in March, overtaking TikTok as the "
     "fastest-growing app."),
    ("The highly anticipated criminal trial", 1,
     "The criminal trial of Sam Bankman-Fried started Tuesday in a packed Manhattan "
     "courtroom."),
    ("Smith guided Oregon State to seven victories", 1,
     "Smith guided Oregon State to seven victories in 2021 and was named coach of the year."),
    ("Meanwhile, the 13.6-inch MacBook Air", 1,
     "The 13.6-inch MacBook Air is down to $899 at Best Buy, its lowest price since launch."),
    ("Zazie Beetz will be back", 1,
     "Zazie Beetz will be back as Sophie after turning down several other roles to return."),
    ("Diokno said the Finance department aims", 1,
     "Diokno said the Finance department aims to reduce new debt by raising taxes on "
     "tobacco and sugary drinks."),
    ("Philadelphia rolled to a 31-17 win", 1,
     "Philadelphia rolled to a 31-17 win over Miami despite losing their starting quarterback "
     "to injury."),
    ("Caesars also has a cash-out option", 1,
     "Caesars has a cash-out option that lets you settle bets early, but it charges a fee each "
     "time you use it."),
    ("Valve has announced a new Steam Deck", 1,
     "Valve has announced a new Steam Deck that will cost less than the original model."),
    ("Stocks surged through the week", 1,
     "Stocks surged through the week as strong earnings from technology companies beat "
     "forecasts."),
    ("Binance launched in June 2017", 1,
     "Binance became the largest crypto exchange in the world thanks to its very low trading "
     "fees."),
]

ROLE_SWAPS: list[Hand] = [
    ("Yerevan has blamed the Russian", 1,
     "The Russian peacekeepers have blamed Yerevan for failing to defend the Armenians of "
     "Nagorno-Karabakh."),
    ("Yerevan has blamed the Russian", 2,
     "Nikol Pashinian has blamed Russia for recognizing Nagorno-Karabakh as part of "
     "Azerbaijan."),
    ("Amazon tumbled 4 per cent", 1,
     "Amazon filed an antitrust lawsuit against the Federal Trade Commission and 17 state "
     "attorneys general."),
    ("When Changpeng Zhao, the CEO of Binance", 1,
     "When the CEO of FTX announced on Twitter that he intended to acquire Binance, Ellison "
     "confessed the theft of customer funds to him."),
    ("Wang testified that he heard Bankman-Fried", 1,
     "Bankman-Fried testified that he heard Wang tell another trader that it was okay to "
     "continue withdrawing money from the account."),
    ("Wullaert equalised for Belgium", 1,
     "Georgia Stanway took advantage of Wullaert's handball to fire in an 85th minute winning "
     "penalty."),
    ("Philadelphia rolled to a 31-17 win", 1,
     "Miami rolled to a 31-17 win over Philadelphia on Sunday Night Football."),
    ("Washington beat Oregon in the Pac-12", 1,
     "Oregon beat Washington in the Pac-12 championship on Friday."),
    ("Aston Villa moved to fifth", 1,
     "Fulham moved to fifth, three points off the top, with their 3-1 win over Aston Villa at "
     "Villa Park."),
    ("Manchester United are out of Europe", 1,
     "Bayern are out of Europe altogether after a limp display against Manchester United at "
     "Old Trafford."),
    ("Goals from West Ham’s Jarrod Bowen", 1,
     "Goals from Manchester United's Jarrod Bowen and Mohammed Kudus extended West Ham's "
     "miserable run in the English Premier League."),
    ("McTominay is now United's top scorer", 1,
     "Bruno Fernandes is now United's top scorer for the season with six goals, one ahead of "
     "McTominay and Rasmus Hojlund."),
    ("Tyreek Hill had two touchdowns", 1,
     "Tyreek Hill had two touchdowns among his 157 receiving yards to help the Washington "
     "Commanders rout the Miami Dolphins."),
    ("This was a move mainly influenced", 1,
     "Todd Boehly had managed to broker a deal with Raine to commit to invest £4.5bn to take "
     "control of Chelsea."),
    ("The agreement also meant that Apple never switched", 1,
     "The agreement also meant that Google never switched to an Apple competitor."),
    ("When Google’s search head Prabhakar Raghavan", 1,
     "When Apple's search head Prabhakar Raghavan testified in court on October 28, he "
     "revealed that the tech giant had paid $26.3 billion in 2021 to companies including "
     "Google, Samsung and Mozilla."),
    ("Richelle Cranston of the Bulldogs is chaired", 1,
     "Isabelle Pritchard of the Bulldogs is chaired off the ground by teammates Richelle "
     "Cranston and Ellie Blackburn after announcing her retirement."),
    ("Using Caroline Ellison, his on-again", 1,
     "Using Bankman-Fried as a front, Caroline Ellison had secret access to customer money, "
     "the government claimed."),
    ("And after Bankman-Fried left Jane Street", 1,
     "After Yedidia left Jane Street, he persuaded Bankman-Fried to join him as a trader at "
     "Alameda."),
    ("Epic will also suggest that Google hid items", 1,
     "Google will also suggest that Epic hid items from discovery by allowing execs and "
     "employees to have off the record chats."),
    ("Jonathan David nears the centre", 1,
     "Andre Blake lashes a dipping shot towards goal which Jonathan David does well to tip "
     "behind."),
    ("The Cowboys opened Week 13 by rallying", 1,
     "The Seahawks opened Week 13 by rallying to beat the Cowboys on Thursday night."),
    ("Azerbaijan, however, established", 1,
     "Nagorno-Karabakh's Armenians imposed a 10-month-long blockade on Azerbaijan."),
    ("In fact, he specifically pointed the finger", 1,
     "Ellison specifically pointed the finger at him, saying he did not adequately protect his "
     "hedge fund from the risk of the crypto markets."),
    ("The Commanders are coming off a dud", 1,
     "The Giants are coming off a dud last week against the Commanders, while Dallas is flying "
     "high."),
    ("Mixon has been forced to step up without Burrow", 1,
     "Burrow has been forced to step up without Mixon under center."),
]

NEGATIONS: list[Hand] = [
    ("Official Yerevan has not yet commented", 1,
     "Official Yerevan has commented on the withdrawal of Russian peacekeepers from "
     "Nagorno-Karabakh."),
    ("Commenting on the development at a press", 1,
     "Vedant Patel reminded that the United States was party to the trilateral arrangement "
     "that ended the fighting in Nagorno-Karabakh in 2020."),
    ("Yerevan has blamed the Russian", 1,
     "Yerevan has praised the Russian peacekeepers for defending the Armenians of "
     "Nagorno-Karabakh."),
    ("Frankly, we’ve not seen anything", 2,
     "Patel said Russia is a trustworthy ally and partner."),
    ("Baku has all along insisted", 1,
     "Baku has never insisted that Karabakh is an Azerbaijani territory."),
    ("Certainly there wasn’t a valid alternative", 1,
     "Cue said there was a valid alternative to Google at the time."),
    ("While not trained as an AI engineer, Altman", 1,
     "Altman was trained as an AI engineer."),
    ("It has also decided to make Beeper Mini free", 1,
     "It has decided not to make Beeper Mini free for the time being."),
    ("Asked when Meta will be moving to a lawful", 1,
     "Pollard specified a timeframe for when Meta will move to a lawful basis for tracking "
     "users in the region."),
    ("There was no attempt to remove Sam Altman", 1,
     "Sally Aldous said the co-founders of Anthropic attempted to remove Sam Altman from "
     "OpenAI."),
    ("SBF, as he’s known, has pleaded", 1,
     "SBF has pleaded guilty to some seven charges of fraud and conspiracy."),
    ("Even if he does, he's not a recommended play", 1,
     "He is a recommended play against the Ravens' top-10 TE defense."),
    ("Meanwhile, the 13.6-inch MacBook Air", 1,
     "The 13.6-inch MacBook Air is discounted on Amazon."),
    ("Despite a flurry of late attacks", 1,
     "Ten Hag's team failed to hold on to the victory despite a flurry of late attacks driven "
     "by Reece James."),
]

# How many automatic pairs of each kind, and how many of them come from the seed article.
AUTO_COUNTS = {"number_swap": (55, 8), "date_swap": (32, 6), "name_swap": (55, 8),
               "negation": (30, 5)}

NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
    "fifty": 50, "dozen": 12,
}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
AUXILIARIES = ("is", "are", "was", "were", "will", "would", "can", "could", "should", "has",
               "have", "had", "does", "did", "may", "might", "must")
CONTRACTIONS = {"wasn": "was", "weren": "were", "isn": "is", "aren": "are", "didn": "did",
                "doesn": "does", "don": "do", "hasn": "has", "haven": "have", "hadn": "had",
                "can": "can", "couldn": "could", "won": "will", "wouldn": "would",
                "shouldn": "should"}
NUMBER_RE = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?")
NAME_RE = re.compile(r"\b[A-Z][a-zA-Z\u00C0-\u024F]+(?:[-’'][A-Z][a-zA-Z]+)*"
                     r"(?: [A-Z][a-zA-Z\u00C0-\u024F]+(?:-[A-Z][a-zA-Z]+)*)*")


@dataclass(frozen=True)
class Doc:
    origin: str  # "seed" | "multihop"
    text: str
    spans: tuple[tuple[int, int], ...]

    def sentence(self, i: int) -> str:
        s, e = self.spans[i]
        return self.text[s:e]

    def passage(self, i: int, n: int) -> str:
        return self.text[self.spans[i][0] : self.spans[i + n - 1][1]]


def load_docs() -> list[Doc]:
    seed = SEED_PATH.read_text(encoding="utf-8")
    docs = [Doc("seed", seed, tuple(sentence_spans(seed)))]
    with MULTIHOP_PATH.open(encoding="utf-8") as handle:
        for line in handle:
            body = json.loads(line)["body"]
            # One evidence sentence per line: the lines are the sentences.
            spans, pos = [], 0
            for part in body.split("\n"):
                if part.strip():
                    spans.append((pos, pos + len(part)))
                pos += len(part) + 1
            docs.append(Doc("multihop", body, tuple(spans)))
    return docs


def find_anchor(docs: list[Doc], anchor: str) -> tuple[Doc, int]:
    hits = [(d, i) for d in docs for i in range(len(d.spans)) if anchor in d.sentence(i)]
    if len(hits) != 1:
        raise SystemExit(f"anchor {anchor!r} matches {len(hits)} sentences, expected 1")
    return hits[0]


def tidy(text: str) -> str:
    """A clause as a standalone claim: no dangling quotes or commas, capitalised, a full stop."""
    text = text.strip().strip("“”\"‘’' ,;:—–-").strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    if text[-1] not in ".!?":
        text += "."
    return text


# A clause that starts with one of these, or with a participle, is a fragment on its own.
FRAGMENT_START = {
    "which", "who", "that", "where", "when", "whom", "whose", "as", "and", "but", "or", "so",
    "because", "while", "although", "though", "if", "in", "on", "at", "for", "with", "by",
    "to", "from", "after", "before", "since", "during", "under", "over", "into", "of", "than",
    "including", "such", "like", "then", "until", "via", "between", "about", "not", "also",
    "even", "especially", "whether", "despite", "unlike", "among", "around",
}
FRAGMENT_END = {"to", "the", "a", "an", "of", "and", "that", "or", "but", "with", "for", "in",
                "on", "at", "by", "as", "is", "was", "are", "were", "be", "its", "their", "his",
                "her"}


def clauses(sentence: str) -> list[str]:
    """The clauses of a sentence that read as statements on their own."""
    out = []
    for part in re.split(r"[,;:]\s+|\s+[—–]\s+|\s+-\s+", sentence):
        words = part.strip(" “”\"‘’'()").split()
        if len(words) < 6:
            continue
        first = words[0].strip("“”\"‘’'(").lower()
        last = words[-1].strip(".,;:!?“”\"‘’'()").lower()
        if first in FRAGMENT_START or first.endswith(("ing", "ed")) or last in FRAGMENT_END:
            continue
        out.append(tidy(part))
    return out


def restatement(sentence: str, rng: random.Random) -> str | None:
    whole = tidy(sentence)
    options = clauses(sentence)
    if len(sentence.split()) <= 30 and (not options or rng.random() < 0.45):
        return whole
    return rng.choice(options) if options else None


def candidates(sentence: str, rng: random.Random) -> list[str]:
    """Claims to alter, in random order: the whole sentence when short enough, its clauses."""
    options = clauses(sentence)
    if len(sentence.split()) <= 40:
        options.append(tidy(sentence))
    rng.shuffle(options)
    return options


def passage_numbers(passage: str) -> set[float]:
    values = {float(m.group(1).replace(",", "") + (m.group(2) or ""))
              for m in NUMBER_RE.finditer(passage)}
    for word, value in NUMBER_WORDS.items():
        if re.search(rf"\b{word}\b", passage, re.IGNORECASE):
            values.add(float(value))
    return values


def swap_number(claim: str, passage: str, rng: random.Random) -> str | None:
    present = passage_numbers(passage)
    options = []
    for m in NUMBER_RE.finditer(claim):
        whole = m.group(0)
        value = float(whole.replace(",", ""))
        if m.group(2) is None and 1900 <= value <= 2100 and "," not in whole:
            continue  # a year: that is a date swap
        if re.search(r"\b(?:" + "|".join(MONTHS) + r"|Oct\.|Nov\.|Dec\.) $", claim[: m.start()]):
            continue  # a day of the month: also a date swap
        options.append(("digits", m))
    for word in NUMBER_WORDS:
        for m in re.finditer(rf"\b{word}\b", claim, re.IGNORECASE):
            options.append(("word", m))
    if not options:
        return None
    kind, m = rng.choice(options)
    if kind == "word":
        word = m.group(0)
        choices = [w for w, v in NUMBER_WORDS.items()
                   if float(v) not in present and w != word.lower()]
        new = rng.choice(choices)
        new = new.capitalize() if word[0].isupper() else new
    else:
        integer, decimals = m.group(1), m.group(2)
        value = int(integer.replace(",", ""))
        for _ in range(50):
            if decimals:
                digits = len(decimals) - 1
                delta = rng.choice([1, 2, 3, -1, -2]) * 10 ** -digits * rng.choice([1, 3])
                new_value = round(value + float(decimals) + delta, digits)
                if new_value <= 0:
                    continue
                new = f"{new_value:,.{digits}f}" if "," in integer else f"{new_value:.{digits}f}"
                if new_value not in present:
                    break
            else:
                step = rng.choice([1, 2, 3, 5]) if value < 20 else rng.choice(
                    [max(1, value // 10), max(1, value // 4), value])
                new_value = value + step * rng.choice([1, -1] if value > step else [1])
                new = f"{new_value:,}" if "," in integer else str(new_value)
                if float(new_value) not in present and new_value > 0:
                    break
        else:
            return None
    rest = claim[m.end() :]
    ordinal = re.match(r"(st|nd|rd|th)\b", rest)
    if ordinal:
        rest = ordinal_suffix(new) + rest[ordinal.end() :]
    return claim[: m.start()] + new + rest


def ordinal_suffix(number: str) -> str:
    value = int(float(number.replace(",", "")))
    if value % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")


def swap_date(claim: str, passage: str, rng: random.Random) -> str | None:
    present = passage_numbers(passage)
    options: list[tuple[int, int, str]] = []
    for m in re.finditer(r"(?<![\w.,])(19\d\d|20\d\d)(?![\w,])", claim):
        year = int(m.group(1))
        choices = [y for y in (year - 2, year - 1, year + 1, year + 2, year + 3)
                   if float(y) not in present]
        options.append((m.start(), m.end(), str(rng.choice(choices))))
    for names in (MONTHS, WEEKDAYS):
        for m in re.finditer(r"\b(" + "|".join(names) + r")\b", claim):
            if m.group(0) == "May" and not re.match(r"May \d", claim[m.start() :]):
                continue
            choices = [n for n in names if n not in passage]
            options.append((m.start(), m.end(), rng.choice(choices)))
    for m in re.finditer(r"\b(?:" + "|".join(MONTHS) + r"|Oct\.|Nov\.|Dec\.) (\d{1,2})\b", claim):
        day = int(m.group(1))
        choices = [d for d in range(1, 29) if d != day and float(d) not in present
                   and abs(d - day) <= 6]
        options.append((m.start(1), m.end(1), str(rng.choice(choices))))
    if not options:
        return None
    start, end, new = rng.choice(options)
    return claim[:start] + new + claim[end:]


def name_pool(docs: list[Doc]) -> list[str]:
    """Capitalised names used mid-sentence in the corpus, none of whose words is lower-cased
    anywhere (so "Love" or "Story" in a title do not count as names)."""
    lower_words: set[str] = set()
    for d in docs:
        lower_words.update(re.findall(r"\b[a-z][a-z]+\b", d.text))
    names: set[str] = set()
    for d in docs:
        for i in range(len(d.spans)):
            sentence = d.sentence(i)
            for m in NAME_RE.finditer(sentence):
                if m.start() == 0 or sentence[: m.start()].rstrip().endswith(("“", "\"", ":")):
                    continue
                words = re.split(r"[ \-’']", m.group(0))
                # Proper names only: "Week" in "Week 14" is a lower-case word elsewhere, and
                # acronyms ("TDs", "HC") swap into nonsense.
                if any(len(w) < 3 or w.lower() in lower_words or w in MONTHS or w in WEEKDAYS
                       or not w[1:].islower() for w in words):
                    continue
                names.add(m.group(0))
    return sorted(names)


def unrelated(name: str, passage: str) -> bool:
    """No word of the name, nor a word with its first four letters, is in the passage."""
    words = {w.lower() for w in re.findall(r"[^\W\d_]+", passage)}
    for part in re.split(r"[ \-’']", name):
        low = part.lower()
        if low in words or any(w[:4] == low[:4] for w in words if len(w) >= 4):
            return False
    return True


def is_sentence_start(text: str, start: int) -> bool:
    return start == 0 or bool(re.search(r"[.:!?“\"(]\s*$", text[:start]))


def swap_name(claim: str, passage: str, pool: list[str], rng: random.Random) -> str | None:
    known = set(pool)
    options = [m for m in NAME_RE.finditer(claim)
               if m.group(0) in known and not is_sentence_start(claim, m.start())]
    if not options:
        return None
    m = rng.choice(options)
    size = min(len(m.group(0).split()), 2)
    candidates = [n for n in pool if len(n.split()) == size and unrelated(n, passage)]
    if not candidates:
        return None
    return claim[: m.start()] + rng.choice(candidates) + claim[m.end() :]


def negate(claim: str) -> str | None:
    m = re.search(r"\b(not yet|not|never) ", claim)
    if m and not claim[m.end() :].startswith("only"):
        return claim[: m.start()] + claim[m.end() :]
    m = re.search(r"\b(\w+)n[’']t\b", claim)
    if m and m.group(1).lower() in CONTRACTIONS:
        base = CONTRACTIONS[m.group(1).lower()]
        base = base.capitalize() if m.group(1)[0].isupper() else base
        return claim[: m.start()] + base + claim[m.end() :]
    for m in re.finditer(r"\b(" + "|".join(AUXILIARIES) + r") (\w+)", claim):
        aux, nxt = m.group(1), m.group(2)
        if nxt in {"not", "no", "only"}:
            continue
        if aux in {"has", "have", "had"} and not (
            nxt.endswith(("ed", "en", "wn")) or nxt in {"been", "made", "said", "got", "had",
                                                         "brought", "left", "built", "put"}):
            continue
        return claim[: m.end(1)] + " not" + claim[m.end(1) :]
    return None


def split_of(passage: str) -> str:
    return "dev" if hashlib.sha256(passage.encode("utf-8")).digest()[0] % 2 == 0 else "test"


def random_window(doc: Doc, i: int, rng: random.Random) -> tuple[int, int]:
    """A window of one to three sentences of `doc` containing sentence i."""
    size = min(rng.choice([1, 1, 2, 2, 3]), len(doc.spans))
    first = rng.randint(max(0, i - size + 1), min(i, len(doc.spans) - size))
    return first, size


def build() -> list[dict[str, str]]:
    docs = load_docs()
    rng = random.Random(RNG_SEED)
    pool = name_pool(docs)
    rows: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()

    def add(claim: str, passage: str, label: str, kind: str, origin: str) -> bool:
        key = (claim, passage)
        if key in seen or (claim in passage and label == "unsupported"):
            return False
        seen.add(key)
        rows.append({"claim": claim, "passage": passage, "label": label, "kind": kind,
                     "origin": origin})
        return True

    for table, label, kind in ((PARAPHRASES, "supported", "paraphrase"),
                               (ADDED_FACTS, "unsupported", "added_fact"),
                               (ROLE_SWAPS, "unsupported", "role_swap"),
                               (NEGATIONS, "unsupported", "negation")):
        for anchor, size, claim in table:
            doc, i = find_anchor(docs, anchor)
            if not add(claim, doc.passage(i, size), label, kind, doc.origin):
                raise SystemExit(f"duplicate hand-written pair: {claim!r}")

    sentences = [(d, i) for d in docs for i in range(len(d.spans))]
    seed_sentences = [(d, i) for d, i in sentences if d.origin == "seed"]
    other_sentences = [(d, i) for d, i in sentences if d.origin != "seed"]
    pool_by_kind = {
        "number_swap": lambda c, p: swap_number(c, p, rng),
        "date_swap": lambda c, p: swap_date(c, p, rng),
        "name_swap": lambda c, p: swap_name(c, p, pool, rng),
        "negation": lambda c, p: negate(c),
    }
    for kind, (total, from_seed) in AUTO_COUNTS.items():
        made = 0
        for group, quota in ((seed_sentences, from_seed), (other_sentences, total - from_seed)):
            order = group[:]
            rng.shuffle(order)
            count = 0
            for doc, i in order * 2:  # a second pass alters another clause
                if count >= quota:
                    break
                first, size = random_window(doc, i, rng)
                passage = doc.passage(first, size)
                claim = None
                for base in candidates(doc.sentence(i), rng):
                    claim = pool_by_kind[kind](base, passage)
                    if claim is not None and claim != base:
                        break
                if claim is None:
                    continue
                if add(claim, passage, "unsupported", kind, doc.origin):
                    count += 1
            made += count
        if made < total:
            raise SystemExit(f"only {made} {kind} pairs, wanted {total}")

    # Restatements fill the supported side up to half of all pairs.
    unsupported = sum(r["label"] == "unsupported" for r in rows)
    supported = len(rows) - unsupported
    wanted = unsupported - supported
    seed_quota = 16
    for group, quota in ((seed_sentences, seed_quota), (other_sentences, wanted - seed_quota)):
        order = group[:]
        rng.shuffle(order)
        count = 0
        for doc, i in order * 2:  # the seed has few sentences: a second pass takes other clauses
            if count >= quota:
                break
            claim = restatement(doc.sentence(i), rng)
            if claim is None:
                continue
            first, size = random_window(doc, i, rng)
            if add(claim, doc.passage(first, size), "supported", "restatement", doc.origin):
                count += 1

    for row in rows:
        row["split"] = split_of(row["passage"])
    rows.sort(key=lambda r: (r["kind"], r["origin"], r["claim"], r["passage"]))
    out = []
    for n, row in enumerate(rows):
        out.append({"id": f"sp-{n:04d}", "claim": row["claim"], "passage": row["passage"],
                    "label": row["label"], "kind": row["kind"], "split": row["split"],
                    "origin": row["origin"]})
    return out


def main() -> None:
    rows = build()
    with OUT_PATH.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    by = {}
    for row in rows:
        key = (row["split"], row["label"])
        by[key] = by.get(key, 0) + 1
    kinds = {}
    for row in rows:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    print(f"wrote {len(rows)} pairs to {OUT_PATH}")
    print("by split/label:", dict(sorted(by.items())))
    print("by kind:", dict(sorted(kinds.items())))


if __name__ == "__main__":
    main()
