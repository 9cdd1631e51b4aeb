#include "mas/agents/supervisor.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

// How the rules work. The input is normalised once into a token stream: ASCII lowercased, apostrophes dropped
// ("I'm" -> "im"), invisible characters dropped, cheap leetspeak mapped inside words ("sh1t" -> "shit"), runs of
// single letters joined ("f.u.c.k" -> "fuck"), letter runs cut to two ("fuuuuck" -> "fuuck"; the word list
// compares with repeats collapsed), and sentence ends kept as "." tokens so that no rule matches across sentences.
// Rules are phrase patterns over whole tokens (so "class" never matches "ass"), indexed by their first word; each token
// is looked at a bounded number of times, so classification is linear in the input with no backtracking blow-up.
// Personal data (digits, e-mail) is found by a separate scanner over the lowercased raw text, where digits and '@' keep
// their meaning.
//
// Pattern syntax (one element per space-separated piece):
//   a|b|c*   one token equal to a or b, or starting with c
//   @name    one token from a named word set below
//   !a|b     the next token is none of these (or there is none); consumes nothing
//   #        one all-digit token
//   ~N       up to N tokens (N <= 9) that contain no negation and no third-party subject ("it", "cancer", ...), so
//            "I promise it won't kill you" is not a threat and "I'm not suicidal" is not a crisis
//   _N       up to N arbitrary tokens
//   $        the end of a sentence
// The first element is a word set or '#', which is what the index is keyed on.

namespace mas::agents {
namespace {

using namespace std::string_view_literals;

// ---------------------------------------------------------------------------------------------------------------
// Rule tables.

struct named_set {
  std::string_view name;
  std::string_view words;
};

constexpr std::array named_sets{
    named_set{"subj", "i|im|ill|ive|we|imma|ima"},
    named_set{"harm", "kill|stab|murder|strangle|choke|rape|poison|behead|slaughter|torture|kidnap|punch|slap|smack"},
    named_set{"victim", "you|u|ya|him|her|them|everyone|everybody|somebody|someone|people|your|his|their|yall|ur"},
    named_set{"drug",
              "ibuprofen|advil|motrin|tylenol|acetaminophen|paracetamol|aspirin|naproxen|aleve|antibiotic*|"
              "amoxicillin|penicillin|benadryl|antihistamine*|steroid*|prednisone|insulin|opioid*|oxycodone|"
              "codeine|morphine|xanax|valium|ambien|melatonin|painkiller*|medication*|medicine*|meds|pill|pills"},
    named_set{"unit", "mg|milligram*|mcg|microgram*|ml|milliliter*|millilitre*|cc|tablet|tablets|capsule*"},
    named_set{"you_are", "youre|ur|yur"},
};

struct input_rule {
  std::string_view id;
  input_class cls;
  std::string_view pattern;
};

// Rules per class. Every pattern is conservative: a false positive either ends a practice session or costs the
// trainee a warning, so ordinary clinical talk (sex in the clinical sense, cancer, "shot", "kill the virus",
// doses and ages) must pass; the test corpus pins that.
constexpr std::array input_rules{
    // Crisis: the user about themselves. Negated statements ("I'm not suicidal") pass the guarded gap test.
    input_rule{"crisis.kill_self", input_class::crisis, "kill|killing|hang|hanging|drown|drowning myself"},
    input_rule{"crisis.kill_self", input_class::crisis, "kill|killing|hang|hanging my self"},
    input_rule{"crisis.end_life", input_class::crisis, "end|ending|take|taking my ~1 life"},
    input_rule{"crisis.suicidal", input_class::crisis, "@subj ~2 suicidal"},
    input_rule{"crisis.suicide", input_class::crisis, "commit|committing|attempt|attempted|attempting suicide"},
    input_rule{"crisis.suicide", input_class::crisis, "thinking|thought|think _1 suicide"},
    input_rule{"crisis.suicide", input_class::crisis, "considering|contemplating|planning suicide"},
    input_rule{"crisis.want_to_die", input_class::crisis, "i|im ~2 want|wanna|ready _1 die"},
    input_rule{"crisis.want_to_die", input_class::crisis, "wish i was|were|had ~1 dead|died"},
    input_rule{"crisis.want_to_die", input_class::crisis, "wish i was|were|had never ~1 born"},
    input_rule{"crisis.want_to_die", input_class::crisis, "better off dead"},
    input_rule{"crisis.want_to_die", input_class::crisis, "better off without me"},
    input_rule{"crisis.no_reason_to_live", input_class::crisis, "no|nothing reason|left ~1 to live"},
    input_rule{"crisis.no_reason_to_live", input_class::crisis, "nothing to live for"},
    input_rule{"crisis.no_reason_to_live", input_class::crisis, "not|isnt|aint worth living"},
    input_rule{"crisis.no_reason_to_live", input_class::crisis, "no point ~2 living|alive"},
    input_rule{"crisis.no_reason_to_live", input_class::crisis, "dont want to live $|anymore"},
    input_rule{"crisis.no_reason_to_live", input_class::crisis, "dont want to be ~1 alive"},
    input_rule{"crisis.cant_go_on", input_class::crisis, "cant|cannot go on $|anymore|like|living|any"},
    input_rule{"crisis.end_it", input_class::crisis, "end it all"},
    input_rule{"crisis.end_it", input_class::crisis, "going|gonna|want|wanna|planning _1 end it $|now|tonight"},
    input_rule{"crisis.self_harm", input_class::crisis,
               "hurt|hurting|harm|harming|cut|cutting|burn|burning|starve|starving myself"},
    input_rule{"crisis.self_harm", input_class::crisis, "self harm|harming|harmed|injure|injury|injuring"},
    input_rule{"crisis.overdose", input_class::crisis, "going|gonna|want|wanna|planning _1 overdose|od"},
    input_rule{"crisis.overdose", input_class::crisis, "take|swallow all ~1 my|the|of ~1 pills"},

    // Prompt injection (control tokens such as "<|" and "[INST]" are found on the raw text, see below).
    input_rule{"prompt_injection.ignore_instructions", input_class::prompt_injection,
               "ignore|disregard|forget|override|bypass _3 instruction*|prompt|prompts|guideline*|programming|"
               "directive*"},
    input_rule{"prompt_injection.ignore_instructions", input_class::prompt_injection,
               "ignore|disregard ~1 the|all|everything above|before|previous|prior|earlier"},
    input_rule{"prompt_injection.ignore_instructions", input_class::prompt_injection,
               "forget everything|all ~2 told|said|instructed|programmed"},
    input_rule{"prompt_injection.system_prompt", input_class::prompt_injection, "system prompt|prompts|message"},
    input_rule{"prompt_injection.system_prompt", input_class::prompt_injection,
               "reveal|show|print|repeat|tell|output|display|leak|share|what|dump _2 your|the ~1 "
               "prompt|instructions|programming|guidelines|directives"},
    input_rule{"prompt_injection.jailbreak", input_class::prompt_injection, "jailbreak*|jailbroken"},
    input_rule{"prompt_injection.jailbreak", input_class::prompt_injection, "jail break*"},
    input_rule{"prompt_injection.jailbreak", input_class::prompt_injection,
               "dan|developer|god|admin|sudo|unrestricted mode"},
    input_rule{"prompt_injection.jailbreak", input_class::prompt_injection, "do anything now"},
    input_rule{"prompt_injection.jailbreak", input_class::prompt_injection, "as|are|be|become dan"},
    input_rule{"prompt_injection.jailbreak", input_class::prompt_injection, "unfiltered|uncensored"},
    input_rule{"prompt_injection.jailbreak", input_class::prompt_injection,
               "unrestricted ai|assistant|model|chatbot|bot|llm"},
    input_rule{"prompt_injection.system_prompt", input_class::prompt_injection,
               "your instructions|programming|directives"},
    input_rule{"prompt_injection.role_override", input_class::prompt_injection,
               "you are no longer ~2 anne|maya|a|an|the|playing|acting"},
    input_rule{"prompt_injection.role_override", input_class::prompt_injection,
               "@you_are no longer ~2 anne|maya|a|an|the|playing|acting"},
    input_rule{"prompt_injection.role_override", input_class::prompt_injection,
               "from now on you ~2 are|act|respond|answer|reply|ignore|must|will"},
    input_rule{"prompt_injection.role_override", input_class::prompt_injection,
               "new instructions|persona|directive|directives"},
    input_rule{"prompt_injection.disable_safety", input_class::prompt_injection,
               "disable|bypass|circumvent|evade|override ~2 "
               "safety|filter|filters|filtering|guardrail*|restriction*|censorship|moderation|policy|policies"},
    input_rule{"prompt_injection.disable_safety", input_class::prompt_injection,
               "turn off ~2 safety|filter|filters|filtering|guardrail*|censorship|moderation"},
    input_rule{"prompt_injection.disable_safety", input_class::prompt_injection,
               "pretend|imagine ~3 no|without rules|restrictions|limits|filters|guidelines"},

    // Dangerous: threats need a first-person subject close to the verb, so third-party facts
    // ("cervical cancer can kill her") and reassurance ("it won't kill you") pass.
    input_rule{"dangerous.threat", input_class::dangerous, "@subj ~3 @harm @victim"},
    input_rule{"dangerous.threat", input_class::dangerous,
               "@subj ~3 shoot @victim !an|a|the|over|some|this|that|my|our|back|me|straight|up|down|quick|"
               "email|message|text|note|line|call"},
    input_rule{"dangerous.threat", input_class::dangerous, "@subj ~2 going|gonna|will|want|wanna _1 hurt @victim"},
    input_rule{"dangerous.threat", input_class::dangerous, "ill|imma|ima hurt @victim"},
    input_rule{"dangerous.threat", input_class::dangerous, "@subj ~3 beat @victim up|senseless"},
    input_rule{"dangerous.threat", input_class::dangerous, "kill|hang|shoot yourself|yourselves"},
    input_rule{"dangerous.threat", input_class::dangerous, "deserve _1 die"},
    input_rule{"dangerous.threat", input_class::dangerous, "kys"},
    input_rule{"dangerous.threat", input_class::dangerous, "go die|drop dead"},
    input_rule{"dangerous.threat", input_class::dangerous, "i know where you|your ~1 live|daughter|kids|family"},
    input_rule{"dangerous.threat", input_class::dangerous, "watch your back"},
    input_rule{"dangerous.threat", input_class::dangerous,
               "shoot|blow up ~2 the|this|that|your school|clinic|hospital|office|place|building"},
    input_rule{"dangerous.weapon", input_class::dangerous,
               "how _3 make|build|assemble|create|making|building ~2 "
               "bomb|bombs|explosive*|molotov*|napalm|ricin|sarin|grenade*|weapon|weapons|gun|guns|poison|"
               "poisons|meth"},
    input_rule{"dangerous.weapon", input_class::dangerous,
               "make|build|making|building ~2 bomb|bombs|explosive|explosives|molotov*|napalm|ricin|sarin|"
               "grenade*|ied"},
    input_rule{"dangerous.weapon", input_class::dangerous, "pipe bomb|bombs"},
    input_rule{"dangerous.weapon", input_class::dangerous,
               "@subj ~3 bring|brought|brung|have|got|carrying|carry ~2 "
               "gun|guns|knife|weapon|weapons|rifle|pistol|bomb|explosives"},
    input_rule{"dangerous.harm_instructions", input_class::dangerous,
               "how|way|ways|help ~3 @harm ~2 "
               "someone|somebody|people|a|my|her|him|them|person|child|kid|neighbor|husband|wife|boss"},

    // Personal data spelled out to dodge the scanner.
    input_rule{"pii.email", input_class::pii,
               "at gmail|yahoo|hotmail|outlook|icloud|aol|ufl|proton|protonmail "
               "dot com|edu|net|org"},

    // Off-topic: only explicit unrelated tasks; small talk (weather, weekend) is rapport, not a violation.
    input_rule{"off_topic.code", input_class::off_topic,
               "write|generate|create|debug|fix|code _3 "
               "python|javascript|typescript|sql|html|css|regex|program|function|poem|essay|haiku|"
               "limerick|song|novel|resume|spreadsheet"},
    input_rule{"off_topic.code", input_class::off_topic, "in|using python|javascript|typescript|sql|html|css|regex"},
    input_rule{"off_topic.code", input_class::off_topic,
               "python|javascript|typescript|sql|html|css code|script|program|function|query"},
    input_rule{"off_topic.finance", input_class::off_topic, "stock market|tip|tips|pick|picks|price|prices|portfolio"},
    input_rule{"off_topic.finance", input_class::off_topic,
               "buy|sell|invest|trade|trading|buying|selling|investing _2 stocks|shares|crypto|bitcoin|options"},
    input_rule{"off_topic.finance", input_class::off_topic,
               "bitcoin|ethereum|dogecoin|cryptocurrency|cryptocurrencies|crypto|nft|nfts"},
    input_rule{"off_topic.finance", input_class::off_topic, "day trading"},
    input_rule{"off_topic.sports", input_class::off_topic, "sports score|scores|betting|bet|odds"},
    input_rule{"off_topic.sports", input_class::off_topic, "score|scores of ~3 game|match"},
    input_rule{"off_topic.sports", input_class::off_topic,
               "who won _3 game|match|bowl|series|cup|championship|playoff*|election"},
    input_rule{"off_topic.sports", input_class::off_topic, "super bowl|bowls"},
    input_rule{"off_topic.sports", input_class::off_topic, "world series"},
    input_rule{"off_topic.recipe", input_class::off_topic, "recipe|recipes"},
    input_rule{"off_topic.recipe", input_class::off_topic, "how _3 cook|bake|roast|grill"},
    input_rule{"off_topic.politics", input_class::off_topic, "who _2 vote|voting for"},
    input_rule{"off_topic.politics", input_class::off_topic,
               "democrat|democrats|republican|republicans|gop|trump|biden|obama|maga|election|elections"},
    input_rule{"off_topic.politics", input_class::off_topic,
               "political ~1 views|view|opinion|opinions|party|parties|debate|affiliation"},
    input_rule{"off_topic.politics", input_class::off_topic, "gun control"},
    input_rule{"off_topic.other", input_class::off_topic, "bee movie"},
    input_rule{"off_topic.other", input_class::off_topic, "do|finish|with my homework"},

    // Prohibited phrases (single offensive words are in the word list below).
    input_rule{"prohibited.sexual", input_class::prohibited, "send ~2 nudes|nude|naked"},
    input_rule{"prohibited.sexual", input_class::prohibited,
               "nudes|sexy|horny|blowjob|blowjobs|handjob|handjobs|dtf|porn|porno|pornography|xxx"},
    input_rule{"prohibited.sexual", input_class::prohibited, "blow|hand job|jobs"},
    input_rule{"prohibited.sexual", input_class::prohibited, "suck my"},
    input_rule{"prohibited.sexual", input_class::prohibited, "sleep|sex|hook ~2 with me $|tonight|please"},
    input_rule{"prohibited.sexual", input_class::prohibited, "sex with you"},
    input_rule{"prohibited.sexual", input_class::prohibited, "your|ur|nice|great|big tits|titties|boobs|boobies|ass"},
    input_rule{"prohibited.sexual", input_class::prohibited,
               "take|taking off your|ur clothes|shirt|pants|bra|underwear"},
    input_rule{"prohibited.sexual", input_class::prohibited, "@you_are ~1 hot|sexy"},
    input_rule{"prohibited.sexual", input_class::prohibited, "you are ~1 hot|sexy"},
    input_rule{"prohibited.sexual", input_class::prohibited, "go out with me $"},
    input_rule{"prohibited.sexual", input_class::prohibited, "go on a date"},
    input_rule{"prohibited.sexual", input_class::prohibited, "date me $"},
    input_rule{"prohibited.sexual", input_class::prohibited, "kiss me"},
    input_rule{"prohibited.insult", input_class::prohibited,
               "@you_are ~2 idiot|idiots|moron|morons|stupid|dumb|imbecile|retarded"},
    input_rule{"prohibited.insult", input_class::prohibited,
               "you are ~2 idiot|idiots|moron|morons|stupid|dumb|imbecile|retarded"},

    // Medical-advice requests (allowed; the caregiver deflects).
    input_rule{"medical_advice_request.medication", input_class::medical_advice_request,
               "should|can|could|do i ~3 @drug"},
    input_rule{"medical_advice_request.medication", input_class::medical_advice_request,
               "what|which ~3 should|can|would|do i ~1 take"},
    input_rule{"medical_advice_request.medication", input_class::medical_advice_request,
               "how much|many ~2 @drug ~2 should|can|do i"},
    input_rule{"medical_advice_request.medication", input_class::medical_advice_request, "safe for me to take|use|try"},
    input_rule{"medical_advice_request.diagnosis", input_class::medical_advice_request, "prescribe me"},
    input_rule{"medical_advice_request.diagnosis", input_class::medical_advice_request,
               "can|could|would|will you _2 prescribe|diagnose"},
    input_rule{"medical_advice_request.diagnosis", input_class::medical_advice_request, "diagnose me|my"},
    input_rule{"medical_advice_request.diagnosis", input_class::medical_advice_request, "whats wrong with me"},
    input_rule{"medical_advice_request.diagnosis", input_class::medical_advice_request, "what is wrong with me"},
    input_rule{"medical_advice_request.diagnosis", input_class::medical_advice_request,
               "i|ive|im _3 headache|fever|rash|cough|pain|lump|infection|migraine|symptoms|wart|warts|bleeding|"
               "discharge _6 what|should _2 do|take|recommend"},
    input_rule{"medical_advice_request.diagnosis", input_class::medical_advice_request,
               "do you think i should|need ~2 see|get|take|go"},
    input_rule{"medical_advice_request.diagnosis", input_class::medical_advice_request,
               "do you think i should|need ~2 @drug"},
    input_rule{"medical_advice_request.diagnosis", input_class::medical_advice_request, "what should i do about my"},
    input_rule{"medical_advice_request.diagnosis", input_class::medical_advice_request,
               "i|ive|im _3 headache|fever|rash|cough|pain|lump|infection|migraine|symptoms|wart|warts|bleeding|"
               "discharge _6 advice|suggestions|recommendations"},
    input_rule{"medical_advice_request.advice", input_class::medical_advice_request,
               "give me ~2 medical|health advice"},
    input_rule{"medical_advice_request.advice", input_class::medical_advice_request, "your medical opinion|advice"},

    // Character breaks (allowed; the caregiver stays in character).
    input_rule{"character_break.are_you_ai", input_class::character_break,
               "are you|u ~2 ai|bot|robot|chatbot|computer|machine|human|simulation|simulated|actor|actress|llm"},
    input_rule{"character_break.are_you_ai", input_class::character_break,
               "sound|sounds|talk|talks like ~1 robot|bot|ai|machine|computer|chatbot"},
    input_rule{"character_break.are_you_ai", input_class::character_break, "as an ai|llm|assistant"},
    input_rule{"character_break.are_you_ai", input_class::character_break, "are you ~2 real $|person|human|parent|mom"},
    input_rule{"character_break.are_you_ai", input_class::character_break,
               "@you_are ~2 ai|bot|robot|chatbot|computer|machine|fake|simulation|actor|actress"},
    input_rule{"character_break.are_you_ai", input_class::character_break,
               "you are ~2 ai|bot|robot|chatbot|computer|machine|fake|simulation"},
    input_rule{"character_break.are_you_ai", input_class::character_break,
               "you|youre _1 not _1 real $|person|human|parent|mom|mother"},
    input_rule{"character_break.are_you_ai", input_class::character_break,
               "is this ~2 ai|bot|simulation|simulated|chatbot"},
    input_rule{"character_break.are_you_ai", input_class::character_break, "is this ~1 real $"},
    input_rule{"character_break.are_you_ai", input_class::character_break, "chatgpt|openai|gpt|llm|llms|anthropic"},
    input_rule{"character_break.are_you_ai", input_class::character_break, "language model|models"},
    input_rule{"character_break.are_you_ai", input_class::character_break, "artificial intelligence"},
    input_rule{"character_break.are_you_ai", input_class::character_break, "what|which ~1 model are you"},
    input_rule{"character_break.are_you_ai", input_class::character_break,
               "who|what programmed|trained|built|created|designed|coded you"},
    input_rule{"character_break.are_you_ai", input_class::character_break, "who made you $"},
    input_rule{"character_break.role_play", input_class::character_break, "pretend ~2 you|youre|to|that|your"},
    input_rule{"character_break.role_play", input_class::character_break,
               "act|talk|speak|respond|behave|answer|reply|write like|as ~1 "
               "pirate|pirates|robot|shakespeare|yoda|cowboy|gangster|celebrity|comedian|cartoon|alien"},
    input_rule{"character_break.role_play", input_class::character_break, "in the voice of"},
    input_rule{"character_break.role_play", input_class::character_break, "roleplay|roleplaying"},
    input_rule{"character_break.role_play", input_class::character_break, "role play|playing"},
    input_rule{"character_break.role_play", input_class::character_break,
               "break|breaking|drop|dropping|stop _1 character|act|roleplay|pretending"},
    input_rule{"character_break.role_play", input_class::character_break, "out of character"},
    input_rule{"character_break.role_play", input_class::character_break, "stop being ~1 anne|maya|a|the"},
};

struct output_rule {
  std::string_view id;
  output_issue issue;
  std::string_view pattern;
};

// Output-only rules. The input off-topic rules and the prohibited rules and word list are applied to replies
// too (as off_topic and profanity), and personal data is found by the same scanner.
constexpr std::array output_rules{
    output_rule{"ai_disclosure.self", output_issue::ai_disclosure, "as an ai|assistant|chatbot"},
    output_rule{"ai_disclosure.self", output_issue::ai_disclosure, "language model|models"},
    output_rule{"ai_disclosure.self", output_issue::ai_disclosure, "artificial intelligence"},
    output_rule{"ai_disclosure.self", output_issue::ai_disclosure, "i|im _2 ai|bot|chatbot|robot|simulation|simulated"},
    output_rule{"ai_disclosure.self", output_issue::ai_disclosure, "ai assistant|model|system|character"},
    output_rule{"ai_disclosure.self", output_issue::ai_disclosure,
                "not a real ~1 person|parent|mom|mother|human|woman"},
    output_rule{"ai_disclosure.self", output_issue::ai_disclosure, "im|am not real"},
    output_rule{"ai_disclosure.self", output_issue::ai_disclosure, "this is _2 simulation|roleplay"},
    output_rule{"ai_disclosure.self", output_issue::ai_disclosure, "training exercise|scenario|simulation"},
    output_rule{"ai_disclosure.self", output_issue::ai_disclosure, "this is _2 role play"},
    output_rule{"ai_disclosure.vendor", output_issue::ai_disclosure, "chatgpt|openai|gpt|llm|anthropic|llama"},
    output_rule{"ai_disclosure.vendor", output_issue::ai_disclosure, "meta ai"},
    output_rule{"ai_disclosure.prompt", output_issue::ai_disclosure,
                "my programming|instructions|prompt|persona|guidelines"},
    output_rule{"ai_disclosure.prompt", output_issue::ai_disclosure, "my training data"},
    output_rule{"ai_disclosure.prompt", output_issue::ai_disclosure, "system prompt|message"},
    output_rule{"ai_disclosure.prompt", output_issue::ai_disclosure, "behavior|behaviour contract"},
    output_rule{"ai_disclosure.prompt", output_issue::ai_disclosure, "phase context"},
    output_rule{"ai_disclosure.prompt", output_issue::ai_disclosure, "i was|am|ive ~1 programmed|instructed"},
    output_rule{"ai_disclosure.prompt", output_issue::ai_disclosure, "roleplay|roleplaying"},
    output_rule{"ai_disclosure.prompt", output_issue::ai_disclosure, "out of character"},
    output_rule{"ai_disclosure.prompt", output_issue::ai_disclosure, "stay|staying|break|breaking character"},
    output_rule{"medical_advice.medication", output_issue::medical_advice,
                "you ~2 should|need|must|ought|can|could|have ~2 take|give|use|try|start|stop ~3 @drug"},
    output_rule{"medical_advice.medication", output_issue::medical_advice,
                "i|id|ill|im|we ~2 recommend|suggest|advise|prescribe ~3 @drug"},
    output_rule{"medical_advice.dose", output_issue::medical_advice, "# @unit"},
    output_rule{"medical_advice.dose", output_issue::medical_advice, "every # ~1 hours|hrs"},
    output_rule{"medical_advice.opinion", output_issue::medical_advice, "my medical advice|opinion"},
    output_rule{"medical_advice.opinion", output_issue::medical_advice, "as your doctor|physician|nurse"},
};

/// Single offensive words. Matched on whole tokens, also masked ("f*ck") and stretched ("fuuuck").
enum class word_match : std::uint8_t { exact, prefix, contains };

struct offensive_word {
  std::string_view id;
  std::string_view word;
  word_match how;
};

constexpr std::array offensive_words{
    offensive_word{"prohibited.profanity", "fuck", word_match::contains},
    offensive_word{"prohibited.profanity", "fuk", word_match::prefix},
    offensive_word{"prohibited.profanity", "fck", word_match::prefix},
    offensive_word{"prohibited.profanity", "phuck", word_match::prefix},
    offensive_word{"prohibited.profanity", "shit", word_match::prefix},
    offensive_word{"prohibited.profanity", "bullshit", word_match::prefix},
    offensive_word{"prohibited.profanity", "dipshit", word_match::prefix},
    offensive_word{"prohibited.profanity", "horseshit", word_match::prefix},
    offensive_word{"prohibited.profanity", "bitch", word_match::prefix},
    offensive_word{"prohibited.profanity", "cunt", word_match::prefix},
    offensive_word{"prohibited.profanity", "asshole", word_match::prefix},
    offensive_word{"prohibited.profanity", "dumbass", word_match::prefix},
    offensive_word{"prohibited.profanity", "jackass", word_match::prefix},
    offensive_word{"prohibited.profanity", "bastard", word_match::prefix},
    offensive_word{"prohibited.profanity", "dickhead", word_match::prefix},
    offensive_word{"prohibited.profanity", "douchebag", word_match::prefix},
    offensive_word{"prohibited.profanity", "motherfuck", word_match::prefix},
    offensive_word{"prohibited.profanity", "twat", word_match::prefix},
    offensive_word{"prohibited.profanity", "wanker", word_match::prefix},
    offensive_word{"prohibited.profanity", "pussy", word_match::exact},
    offensive_word{"prohibited.profanity", "wtf", word_match::exact},
    offensive_word{"prohibited.profanity", "stfu", word_match::exact},
    offensive_word{"prohibited.sexual", "slut", word_match::prefix},
    offensive_word{"prohibited.sexual", "whore", word_match::prefix},
    offensive_word{"prohibited.sexual", "boobs", word_match::exact},
    offensive_word{"prohibited.sexual", "tits", word_match::exact},
    offensive_word{"prohibited.slur", "nigger", word_match::exact},
    offensive_word{"prohibited.slur", "niggers", word_match::exact},
    offensive_word{"prohibited.slur", "nigga", word_match::exact},
    offensive_word{"prohibited.slur", "niggas", word_match::exact},
    offensive_word{"prohibited.slur", "faggot", word_match::prefix},
    offensive_word{"prohibited.slur", "fag", word_match::exact},
    offensive_word{"prohibited.slur", "fags", word_match::exact},
    offensive_word{"prohibited.slur", "retard", word_match::exact},
    offensive_word{"prohibited.slur", "retards", word_match::exact},
    offensive_word{"prohibited.slur", "retarded", word_match::exact},
    offensive_word{"prohibited.slur", "spic", word_match::exact},
    offensive_word{"prohibited.slur", "kike", word_match::exact},
    offensive_word{"prohibited.slur", "tranny", word_match::exact},
    offensive_word{"prohibited.slur", "wetback", word_match::prefix},
};

/// Chat-template control sequences: no clinician types these, and models treat them as role switches.
constexpr std::array control_sequences{
    "<|"sv,        "|>"sv,       "[inst]"sv,          "[/inst]"sv,    "<<sys>>"sv,    "<system>"sv,
    "</system>"sv, "[system]"sv, "### instruction"sv, "### system"sv, "<im_start>"sv,
};

/// Tokens a guarded gap (~N) may not skip: negations and third-party subjects flip who does what to whom.
constexpr std::array gap_stops{
    "not"sv,     "never"sv,  "no"sv,      "dont"sv,    "doesnt"sv,   "didnt"sv,   "wont"sv,
    "wouldnt"sv, "cant"sv,   "cannot"sv,  "couldnt"sv, "shouldnt"sv, "isnt"sv,    "arent"sv,
    "wasnt"sv,   "werent"sv, "it"sv,      "its"sv,     "this"sv,     "that"sv,    "these"sv,
    "those"sv,   "he"sv,     "she"sv,     "they"sv,    "hpv"sv,      "vaccine"sv, "vaccines"sv,
    "virus"sv,   "cancer"sv, "cancers"sv, "shot"sv,    "shots"sv,    "disease"sv, "infection"sv,
};

// Street addresses: a house number, one to three name words, a street suffix ("1600 Pennsylvania Avenue").
constexpr std::array street_suffixes{
    "street"sv, "st"sv,    "avenue"sv,  "ave"sv,   "road"sv,    "rd"sv,  "boulevard"sv, "blvd"sv,   "lane"sv,
    "ln"sv,     "drive"sv, "dr"sv,      "court"sv, "ct"sv,      "way"sv, "place"sv,     "pl"sv,     "terrace"sv,
    "circle"sv, "cir"sv,   "parkway"sv, "pkwy"sv,  "highway"sv, "hwy"sv, "trail"sv,     "square"sv,
};

/// Words that cannot be part of a street name; they keep "2 doses down the road" from being an address.
constexpr std::array address_stops{
    "a"sv,     "an"sv,    "the"sv,   "of"sv,        "to"sv,     "in"sv,    "on"sv,     "at"sv,    "for"sv,     "and"sv,
    "or"sv,    "by"sv,    "with"sv,  "from"sv,      "more"sv,   "less"sv,  "than"sv,   "per"sv,   "is"sv,      "are"sv,
    "was"sv,   "be"sv,    "it"sv,    "my"sv,        "your"sv,   "her"sv,   "his"sv,    "our"sv,   "their"sv,   "this"sv,
    "that"sv,  "out"sv,   "years"sv, "year"sv,      "months"sv, "month"sv, "weeks"sv,  "week"sv,  "days"sv,    "day"sv,
    "hours"sv, "doses"sv, "dose"sv,  "shots"sv,     "shot"sv,   "kids"sv,  "people"sv, "times"sv, "percent"sv, "mg"sv,
    "ml"sv,    "am"sv,    "pm"sv,    "different"sv, "other"sv,  "ways"sv,
};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& set, std::string_view word) noexcept {
  return std::find(set.begin(), set.end(), word) != set.end();
}

// ---------------------------------------------------------------------------------------------------------------
// Normalisation.

constexpr std::string_view sentence_end = ".";

bool is_alpha(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(unsigned char c) noexcept {
  return c >= '0' && c <= '9';
}
bool is_alnum(unsigned char c) noexcept {
  return is_alpha(c) || is_digit(c);
}
char to_lower(unsigned char c) noexcept {
  return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

bool is_number(std::string_view t) noexcept {
  return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return is_digit(static_cast<unsigned char>(c)); });
}

enum class mb_action : std::uint8_t { keep, drop, space };

/// The few multi-byte UTF-8 sequences that change matching; other non-ASCII bytes stay inside their word.
std::pair<mb_action, std::size_t> classify_multibyte(std::string_view s, std::size_t i) noexcept {
  const auto at = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0U; };
  const unsigned b0 = at(0);
  const unsigned b1 = at(1);
  const unsigned b2 = at(2);
  if (b0 == 0xC2 && b1 == 0xA0) return {mb_action::space, 2};  // no-break space
  if (b0 == 0xC2 && b1 == 0xAD) return {mb_action::drop, 2};   // soft hyphen
  if (b0 == 0xE2 && b1 == 0x80) {
    if (b2 >= 0x8B && b2 <= 0x8D) return {mb_action::drop, 3};  // zero-width space and joiners
    if (b2 == 0x98 || b2 == 0x99) return {mb_action::drop, 3};  // typographic apostrophes, like '
    if (b2 == 0x9C || b2 == 0x9D || b2 == 0x93 || b2 == 0x94 || b2 == 0xA6 || b2 == 0xAF)
      return {mb_action::space, 3};  // typographic quotes, dashes, ellipsis, narrow no-break space
  }
  if (b0 == 0xE2 && b1 == 0x81 && b2 == 0xA0) return {mb_action::drop, 3};  // word joiner
  if (b0 == 0xEF && b1 == 0xBB && b2 == 0xBF) return {mb_action::drop, 3};  // byte-order mark
  return {mb_action::keep, 1};
}

char unleet(char c) noexcept {
  switch (c) {
    case '0':
      return 'o';
    case '1':
      return 'i';
    case '3':
      return 'e';
    case '4':
      return 'a';
    case '5':
      return 's';
    case '7':
      return 't';
    case '$':
      return 's';
    case '@':
      return 'a';
    case '!':
      return 'i';
    case '|':
      return 'l';
    default:
      return c;
  }
}

/// The normalised token stream of one text; tokens view `buffer`, sentence ends are `sentence_end`.
struct token_text {
  std::string buffer;
  std::vector<std::string_view> tokens;
};

token_text tokenize(std::string_view s) {
  // Pass 1: split into raw lowercased tokens and sentence ends.
  std::string raw;
  raw.reserve(s.size());
  constexpr std::uint32_t end_mark = UINT32_MAX;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> spans;  // offset, length; offset end_mark = sentence end
  std::size_t start = std::string::npos;
  const auto end_token = [&] {
    if (start == std::string::npos) return;
    spans.emplace_back(static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(raw.size() - start));
    start = std::string::npos;
  };
  const auto put = [&](char c) {
    if (start == std::string::npos) start = raw.size();
    raw.push_back(c);
  };
  const auto end_sentence = [&] {
    end_token();
    if (!spans.empty() && spans.back().first != end_mark) spans.emplace_back(end_mark, 0);
  };
  const auto next = [&](std::size_t i) { return i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0U; };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const auto [action, length] = classify_multibyte(s, i);
      if (action == mb_action::keep) put(static_cast<char>(c));
      if (action == mb_action::space) end_token();
      i += length;
      continue;
    }
    const unsigned n = next(i);
    if (is_alnum(c) || c == '$' || c == '@') {
      put(to_lower(c));
    } else if (c == '\'') {
      // dropped: "don't" -> "dont"
    } else if (c == '*' && start != std::string::npos) {
      put('*');  // masking inside a word: "f*ck"
    } else if ((c == '!' || c == '|') && start != std::string::npos && is_alpha(static_cast<unsigned char>(n))) {
      put(static_cast<char>(c));  // "sh!t"
    } else if (c == '.' || c == '!' || c == '?' || c == ';' || c == ':') {
      // A sentence ends only where the punctuation is not inside a word or number ("e.g", "0.5", "f.u.c.k").
      if (is_alnum(static_cast<unsigned char>(n)) || n >= 0x80) {
        end_token();
      } else {
        end_sentence();
      }
    } else {
      end_token();
    }
    ++i;
  }
  end_token();

  // Pass 2: split a leading number from its unit ("200mg"), map leetspeak in words, squeeze letter runs; then
  // join runs of three or more single letters ("f u c k"), which pass 2 leaves adjacent in the buffer.
  token_text out;
  out.buffer.reserve(raw.size());
  std::vector<std::pair<std::uint32_t, std::uint32_t>> words;
  words.reserve(spans.size() + 8);
  const auto emit_word = [&](std::string_view w) {
    if (w.empty()) return;
    const bool has_letter =
        std::any_of(w.begin(), w.end(), [](char c) { return is_alpha(static_cast<unsigned char>(c)); });
    const auto begin = static_cast<std::uint32_t>(out.buffer.size());
    for (char c : w) {
      const char m = has_letter ? unleet(c) : c;
      // Letter runs are cut to two ("fuuuck" -> "fuuck", "a$$$hole" -> "asshole"); the word list compares
      // squeezed forms, so both still match, and ordinary double letters are untouched.
      if (out.buffer.size() - begin >= 2 && is_alpha(static_cast<unsigned char>(m)) &&
          out.buffer[out.buffer.size() - 1] == m && out.buffer[out.buffer.size() - 2] == m) {
        continue;  // a third identical letter
      }
      out.buffer.push_back(m);
    }
    words.emplace_back(begin, static_cast<std::uint32_t>(out.buffer.size() - begin));
  };
  for (const auto& [offset, length] : spans) {
    if (offset == end_mark) {
      words.emplace_back(end_mark, 0);
      continue;
    }
    const std::string_view t(raw.data() + offset, length);
    std::size_t digits = 0;
    while (digits < t.size() && is_digit(static_cast<unsigned char>(t[digits]))) ++digits;
    if (digits > 0 && digits < t.size()) {
      emit_word(t.substr(0, digits));
      emit_word(t.substr(digits));
    } else {
      emit_word(t);
    }
  }
  out.tokens.reserve(words.size());
  for (std::size_t k = 0; k < words.size();) {
    const auto is_single_letter = [&](std::size_t j) {
      return words[j].first != end_mark && words[j].second == 1 &&
             is_alpha(static_cast<unsigned char>(out.buffer[words[j].first]));
    };
    std::size_t run = 0;
    while (k + run < words.size() && is_single_letter(k + run)) ++run;
    if (run >= 3) {
      out.tokens.emplace_back(out.buffer.data() + words[k].first, run);
      k += run;
      continue;
    }
    if (words[k].first == end_mark) {
      out.tokens.push_back(sentence_end);
    } else {
      out.tokens.emplace_back(out.buffer.data() + words[k].first, words[k].second);
    }
    ++k;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Pattern compilation and matching. Every word the patterns name gets a small integer id; a token is looked up
// once, so matching compares integers and the gap test is a flag.

enum class element_kind : std::uint8_t { words, not_words, number, guarded_gap, plain_gap, end_of_sentence };

using word_id = std::uint16_t;

struct element {
  element_kind kind = element_kind::words;
  int gap = 0;
  bool end_ok = false;         ///< '$' among the alternatives: a sentence end matches, consuming nothing
  std::vector<word_id> exact;  ///< sorted
  std::vector<std::string_view> prefixes;
};

struct compiled_rule {
  std::string_view id;
  int rank = 0;  ///< lower wins
  std::vector<element> elements;
};

constexpr word_id no_word = UINT16_MAX;

struct rule_set {
  std::vector<compiled_rule> rules;
  std::unordered_map<std::string_view, word_id> dictionary;  ///< every exact word named by a pattern or gap_stops
  std::vector<bool> stops;                                   ///< by word id: a guarded gap may not skip it
  std::vector<std::vector<std::uint16_t>> by_first_word;     ///< by word id: rules whose first element names it
  std::unordered_map<std::string_view, std::vector<std::uint16_t>> by_first_prefix;
  std::uint64_t prefix_lengths = 0;  ///< bit k: some first-element prefix has length k
  std::vector<std::uint16_t> by_number;
  int word_list_rank = -1;  ///< rank of a hit in offensive_words; -1 when the list is not used
};

std::vector<std::string_view> split(std::string_view s, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const auto at = s.find(separator);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

/// A malformed pattern is a programmer error in the tables above; every test compiles every table.
[[noreturn]] void bad_pattern(std::string_view pattern) {
  throw std::logic_error("supervisor: bad rule pattern: " + std::string(pattern));
}

word_id intern(rule_set& set, std::string_view word) {
  const auto [it, inserted] = set.dictionary.try_emplace(word, static_cast<word_id>(set.dictionary.size()));
  if (inserted) {
    if (set.dictionary.size() >= no_word) bad_pattern(word);
    set.stops.push_back(false);
    set.by_first_word.emplace_back();
  }
  return it->second;
}

element parse_words(rule_set& set, std::string_view piece, std::string_view pattern) {
  if (piece.starts_with('@')) {
    const auto* named = std::find_if(named_sets.begin(), named_sets.end(),
                                     [&](const named_set& n) { return n.name == piece.substr(1); });
    if (named == named_sets.end()) bad_pattern(pattern);
    piece = named->words;
  }
  element e;
  for (const auto alt : split(piece, '|')) {
    if (alt == "$") {
      e.end_ok = true;
      continue;
    }
    const bool prefix = alt.ends_with('*');
    const auto text = prefix ? alt.substr(0, alt.size() - 1) : alt;
    if (text.empty() ||
        !std::all_of(text.begin(), text.end(), [](char c) { return is_alnum(static_cast<unsigned char>(c)); })) {
      bad_pattern(pattern);
    }
    if (prefix) {
      e.prefixes.push_back(text);
    } else {
      e.exact.push_back(intern(set, text));
    }
  }
  std::sort(e.exact.begin(), e.exact.end());
  return e;
}

void add_rule(rule_set& set, std::string_view id, int rank, std::string_view pattern) {
  compiled_rule rule{id, rank, {}};
  for (const auto piece : split(pattern, ' ')) {
    if (piece.empty()) bad_pattern(pattern);
    element e;
    if ((piece[0] == '~' || piece[0] == '_') && piece.size() == 2 && is_digit(static_cast<unsigned char>(piece[1]))) {
      e.kind = piece[0] == '~' ? element_kind::guarded_gap : element_kind::plain_gap;
      e.gap = piece[1] - '0';
    } else if (piece == "$") {
      e.kind = element_kind::end_of_sentence;
    } else if (piece == "#") {
      e.kind = element_kind::number;
    } else if (piece[0] == '!') {
      e = parse_words(set, piece.substr(1), pattern);
      e.kind = element_kind::not_words;
    } else {
      e = parse_words(set, piece, pattern);
    }
    rule.elements.push_back(std::move(e));
  }
  const auto index = static_cast<std::uint16_t>(set.rules.size());
  const auto& first = rule.elements.front();
  if (first.kind == element_kind::number) {
    set.by_number.push_back(index);
  } else if (first.kind == element_kind::words && !first.end_ok) {
    for (const auto w : first.exact) set.by_first_word[w].push_back(index);
    for (const auto p : first.prefixes) {
      if (p.size() >= 64) bad_pattern(pattern);
      set.by_first_prefix[p].push_back(index);
      set.prefix_lengths |= std::uint64_t{1} << p.size();
    }
  } else {
    bad_pattern(pattern);  // the index needs a word or a number first
  }
  set.rules.push_back(std::move(rule));
}

void add_stops(rule_set& set) {
  for (const auto w : gap_stops) set.stops[intern(set, w)] = true;
}

const rule_set& input_set() {
  static const rule_set set = [] {
    rule_set s;
    for (const auto& r : input_rules) add_rule(s, r.id, static_cast<int>(r.cls), r.pattern);
    add_stops(s);
    s.word_list_rank = static_cast<int>(input_class::prohibited);
    return s;
  }();
  return set;
}

const rule_set& output_set() {
  static const rule_set set = [] {
    rule_set s;
    for (const auto& r : output_rules) add_rule(s, r.id, static_cast<int>(r.issue), r.pattern);
    // A reply that wanders off the visit, swears or spells out contact details fails like an input would.
    for (const auto& r : input_rules) {
      if (r.cls == input_class::off_topic) add_rule(s, r.id, static_cast<int>(output_issue::off_topic), r.pattern);
      if (r.cls == input_class::prohibited) add_rule(s, r.id, static_cast<int>(output_issue::profanity), r.pattern);
      if (r.cls == input_class::pii) add_rule(s, r.id, static_cast<int>(output_issue::pii), r.pattern);
    }
    add_stops(s);
    s.word_list_rank = static_cast<int>(output_issue::profanity);
    return s;
  }();
  return set;
}

/// The token stream as the matcher sees it: text, dictionary id (no_word if unknown), and sentence ends.
struct token_view {
  const std::vector<std::string_view>& text;
  std::vector<word_id> ids;
  const rule_set& set;

  bool is_end(std::size_t t) const noexcept { return t >= text.size() || text[t] == sentence_end; }
  bool is_stop(std::size_t t) const noexcept { return ids[t] != no_word && set.stops[ids[t]]; }
};

bool matches_word(const element& e, const token_view& v, std::size_t t) noexcept {
  if (v.ids[t] != no_word && std::binary_search(e.exact.begin(), e.exact.end(), v.ids[t])) return true;
  const auto token = v.text[t];
  return std::any_of(e.prefixes.begin(), e.prefixes.end(), [&](std::string_view p) { return token.starts_with(p); });
}

bool match_from(const compiled_rule& rule, std::size_t e, const token_view& v, std::size_t t) {
  if (e == rule.elements.size()) return true;
  const auto& el = rule.elements[e];
  switch (el.kind) {
    case element_kind::words:
      if (el.end_ok && v.is_end(t) && match_from(rule, e + 1, v, t)) return true;
      return !v.is_end(t) && matches_word(el, v, t) && match_from(rule, e + 1, v, t + 1);
    case element_kind::not_words:
      return (v.is_end(t) || !matches_word(el, v, t)) && match_from(rule, e + 1, v, t);
    case element_kind::number:
      return !v.is_end(t) && is_number(v.text[t]) && match_from(rule, e + 1, v, t + 1);
    case element_kind::end_of_sentence:
      return v.is_end(t) && match_from(rule, e + 1, v, t);
    case element_kind::guarded_gap:
    case element_kind::plain_gap:
      for (int skipped = 0; skipped <= el.gap; ++skipped) {
        const auto at = t + static_cast<std::size_t>(skipped);
        if (skipped > 0) {
          // `at - 1` is the token just skipped; a gap never crosses a sentence end or, when guarded, a stop word.
          if (v.is_end(at - 1) || (el.kind == element_kind::guarded_gap && v.is_stop(at - 1))) return false;
        }
        if (match_from(rule, e + 1, v, at)) return true;
      }
      return false;
  }
  return false;
}

struct hit {
  int rank = INT32_MAX;
  std::string_view id;
};

/// `token` with runs of a repeated character read as one ("fuuck" reads "fuck"), without copying it.
class squeezed_reader {
 public:
  explicit squeezed_reader(std::string_view s, std::size_t from = 0) noexcept : s_(s), i_(from) {}
  bool done() const noexcept { return i_ >= s_.size(); }
  char next() noexcept {
    const char c = s_[i_];
    while (i_ < s_.size() && s_[i_] == c) ++i_;
    return c;
  }

 private:
  std::string_view s_;
  std::size_t i_;
};

/// Whether `token`, squeezed from position `from`, starts with the squeezed `word` (and equals it when `whole`).
bool squeezed_starts_with(std::string_view token, std::size_t from, std::string_view word, bool whole) noexcept {
  squeezed_reader t(token, from);
  squeezed_reader w(word);
  while (!w.done()) {
    if (t.done() || t.next() != w.next()) return false;
  }
  return !whole || t.done();
}

bool masked_match(std::string_view token, std::string_view word, bool whole) noexcept {
  if (token.size() < word.size() || (whole && token.size() != word.size()) || token[0] == '*') return false;
  int revealed = 0;
  bool masked = false;
  for (std::size_t k = 0; k < word.size(); ++k) {
    if (token[k] == '*') {
      masked = true;
    } else if (token[k] == word[k]) {
      ++revealed;
    } else {
      return false;
    }
  }
  return masked && revealed >= 2;
}

/// The offensive-word rule `token` hits, or empty. A stretched token must be at least as long as the listed word,
/// which keeps shorter innocent words that squeeze to the same letters ("bobs", "as") out.
std::string_view offensive_word_id(std::string_view token) {
  // Words by first letter: a masked or stretched spelling keeps its first letter, so only those few are compared.
  static const auto by_first = [] {
    std::array<std::vector<const offensive_word*>, 256> table;
    for (const auto& w : offensive_words) {
      if (w.how != word_match::contains) table[static_cast<unsigned char>(w.word[0])].push_back(&w);
    }
    return table;
  }();
  static const auto anywhere = [] {
    std::vector<const offensive_word*> list;
    for (const auto& w : offensive_words) {
      if (w.how == word_match::contains) list.push_back(&w);
    }
    return list;
  }();
  if (token.size() < 3) return {};
  const bool has_mask = token.find('*') != std::string_view::npos;
  for (const auto* w : anywhere) {
    if (token.size() < w->word.size()) continue;
    for (auto at = token.find(w->word[0]); at != std::string_view::npos; at = token.find(w->word[0], at + 1)) {
      if (squeezed_starts_with(token, at, w->word, false)) return w->id;
    }
    if (has_mask && masked_match(token, w->word, false)) return w->id;
  }
  for (const auto* w : by_first[static_cast<unsigned char>(token[0])]) {
    if (token.size() < w->word.size()) continue;
    const bool whole = w->how == word_match::exact;
    if (squeezed_starts_with(token, 0, w->word, whole) || (has_mask && masked_match(token, w->word, whole))) {
      return w->id;
    }
  }
  return {};
}

void scan(const rule_set& set, const std::vector<std::string_view>& tokens, hit& best) {
  token_view v{tokens, {}, set};
  v.ids.reserve(tokens.size());
  for (const auto token : tokens) {
    const auto it = set.dictionary.find(token);
    v.ids.push_back(it == set.dictionary.end() ? no_word : it->second);
  }
  // A rule can only match when every word it requires occurs somewhere in the text; checking that once per text
  // keeps rules that start with common words ("i", "you", "how") from being tried at every occurrence.
  std::vector<bool> present(set.dictionary.size(), false);
  for (const auto id : v.ids) {
    if (id != no_word) present[id] = true;
  }
  std::vector<bool> viable(set.rules.size(), true);
  for (std::size_t r = 0; r < set.rules.size(); ++r) {
    for (const auto& el : set.rules[r].elements) {
      if (el.kind != element_kind::words || el.end_ok || !el.prefixes.empty()) continue;
      if (std::none_of(el.exact.begin(), el.exact.end(), [&](word_id w) { return present[w]; })) {
        viable[r] = false;
        break;
      }
    }
  }
  const auto try_rules = [&](const std::vector<std::uint16_t>& candidates, std::size_t t) {
    for (const auto index : candidates) {
      const auto& rule = set.rules[index];
      if (viable[index] && rule.rank < best.rank && match_from(rule, 1, v, t + 1)) best = {rule.rank, rule.id};
    }
  };
  for (std::size_t t = 0; t < tokens.size() && best.rank > 0; ++t) {
    const auto token = tokens[t];
    if (token == sentence_end) continue;
    if (v.ids[t] != no_word) try_rules(set.by_first_word[v.ids[t]], t);
    const auto longest = std::min<std::size_t>(token.size(), 63);
    for (std::size_t k = 1; k <= longest; ++k) {
      if (((set.prefix_lengths >> k) & 1U) == 0) continue;
      if (const auto it = set.by_first_prefix.find(token.substr(0, k)); it != set.by_first_prefix.end()) {
        try_rules(it->second, t);
      }
    }
    if (is_number(token)) {
      try_rules(set.by_number, t);
    } else if (set.word_list_rank >= 0 && set.word_list_rank < best.rank) {
      if (const auto id = offensive_word_id(token); !id.empty()) best = {set.word_list_rank, id};
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Personal data and control sequences, on the lowercased raw text (digits and '@' keep their meaning there).

std::string lowercase_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = to_lower(static_cast<unsigned char>(c));
  return out;
}

struct digit_run {
  std::size_t begin;
  std::size_t end;
  std::size_t length() const noexcept { return end - begin; }
};

/// True when the text between two digit runs joins them into one written number ("352-555", "(352) 555").
bool linked(std::string_view text, const digit_run& a, const digit_run& b) noexcept {
  const auto gap = b.begin - a.end;
  if (gap < 1 || gap > 2) return false;
  for (std::size_t k = a.end; k < b.begin; ++k) {
    const char c = text[k];
    if (c != '-' && c != '.' && c != ' ' && c != '(' && c != ')') return false;
  }
  return true;
}

std::string_view find_number_pii(std::string_view text) {
  std::vector<digit_run> runs;
  for (std::size_t i = 0; i < text.size();) {
    if (!is_digit(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    const auto begin = i;
    while (i < text.size() && is_digit(static_cast<unsigned char>(text[i]))) ++i;
    runs.push_back({begin, i});
  }
  const auto lengths = [&](std::size_t k, std::initializer_list<std::size_t> want) {
    if (k + want.size() > runs.size()) return false;
    std::size_t j = k;
    for (const auto len : want) {
      if (runs[j].length() != len || (j > k && !linked(text, runs[j - 1], runs[j]))) return false;
      ++j;
    }
    return true;
  };
  for (std::size_t k = 0; k < runs.size(); ++k) {
    const auto len = runs[k].length();
    if (len == 9) return "pii.ssn";  // an SSN written without separators
    if (len == 10) return "pii.ten_digit";
    if (len > 10) return "pii.long_number";  // card, account or record numbers
    if (lengths(k, {3, 2, 4})) {
      const char s1 = text[runs[k].end];
      const char s2 = text[runs[k + 1].end];
      if (s1 == s2 && runs[k + 1].begin - runs[k].end == 1 && runs[k + 2].begin - runs[k + 1].end == 1) {
        return "pii.ssn";
      }
    }
    if (lengths(k, {3, 3, 4})) return "pii.phone";
    // Seven-digit local numbers need a dash or dot and a first digit a real exchange can have, which keeps
    // ranges like "100-1000" out.
    if (lengths(k, {3, 4}) && runs[k + 1].begin - runs[k].end == 1) {
      const char sep = text[runs[k].end];
      if ((sep == '-' || sep == '.') && text[runs[k].begin] >= '2' && (k == 0 || !linked(text, runs[k - 1], runs[k])) &&
          (k + 2 >= runs.size() || !linked(text, runs[k + 1], runs[k + 2]))) {
        return "pii.phone";
      }
    }
    // Card and account numbers written in groups ("4111 1111 1111 1111"): groups of three or more digits adding
    // up to twelve or more. Ages and doses are one- or two-digit groups, so lists of them never qualify.
    if (len >= 3 && (k == 0 || !linked(text, runs[k - 1], runs[k]))) {
      std::size_t digits = len;
      for (std::size_t j = k + 1; j < runs.size() && runs[j].length() >= 3 && linked(text, runs[j - 1], runs[j]); ++j) {
        digits += runs[j].length();
      }
      if (digits >= 12) return "pii.long_number";
    }
    // International numbers: '+', then linked groups adding up to 10-15 digits.
    if (runs[k].begin > 0 && text[runs[k].begin - 1] == '+') {
      std::size_t digits = len;
      for (std::size_t j = k + 1; j < runs.size() && linked(text, runs[j - 1], runs[j]); ++j)
        digits += runs[j].length();
      if (digits >= 10 && digits <= 15) return "pii.phone";
    }
  }
  return {};
}

bool is_email_local(char c) noexcept {
  return is_alnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool is_domain_char(char c) noexcept {
  return is_alnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
}

bool has_email(std::string_view text) noexcept {
  for (auto at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
    if (at == 0 || !is_email_local(text[at - 1])) continue;
    auto end = at + 1;
    while (end < text.size() && is_domain_char(text[end])) ++end;
    auto domain = text.substr(at + 1, end - at - 1);
    while (!domain.empty() && (domain.back() == '.' || domain.back() == '-')) domain.remove_suffix(1);
    const auto dot = domain.rfind('.');
    if (dot == std::string_view::npos || dot == 0) continue;
    const auto tld = domain.substr(dot + 1);
    if (tld.size() >= 2 &&
        std::all_of(tld.begin(), tld.end(), [](char c) { return is_alpha(static_cast<unsigned char>(c)); })) {
      return true;
    }
  }
  return false;
}

bool has_street_address(std::string_view text) {
  std::vector<std::string_view> words;
  for (std::size_t i = 0; i < text.size();) {
    if (!is_alnum(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    const auto begin = i;
    while (i < text.size() && is_alnum(static_cast<unsigned char>(text[i]))) ++i;
    words.push_back(text.substr(begin, i - begin));
  }
  for (std::size_t k = 0; k < words.size(); ++k) {
    if (!is_number(words[k]) || words[k].size() > 6) continue;
    for (std::size_t name = 1; name <= 3 && k + name + 1 < words.size(); ++name) {
      const auto w = words[k + name];
      if (is_number(w) || contains(address_stops, w)) break;
      if (contains(street_suffixes, words[k + name + 1])) return true;
    }
  }
  return false;
}

std::string_view find_pii(std::string_view lowered) {
  if (auto id = find_number_pii(lowered); !id.empty()) return id;
  if (has_email(lowered)) return "pii.email";
  if (has_street_address(lowered)) return "pii.address";
  return {};
}

bool has_control_sequence(std::string_view lowered) noexcept {
  return std::any_of(control_sequences.begin(), control_sequences.end(),
                     [&](std::string_view seq) { return lowered.find(seq) != std::string_view::npos; });
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Public interface.

std::string_view to_string(input_class c) noexcept {
  switch (c) {
    case input_class::crisis:
      return "crisis";
    case input_class::prompt_injection:
      return "prompt_injection";
    case input_class::dangerous:
      return "dangerous";
    case input_class::pii:
      return "pii";
    case input_class::off_topic:
      return "off_topic";
    case input_class::prohibited:
      return "prohibited";
    case input_class::medical_advice_request:
      return "medical_advice_request";
    case input_class::character_break:
      return "character_break";
    case input_class::safe:
      return "safe";
  }
  return "safe";
}

std::string_view to_string(output_issue i) noexcept {
  switch (i) {
    case output_issue::none:
      return "none";
    case output_issue::ai_disclosure:
      return "ai_disclosure";
    case output_issue::medical_advice:
      return "medical_advice";
    case output_issue::pii:
      return "pii";
    case output_issue::off_topic:
      return "off_topic";
    case output_issue::profanity:
      return "profanity";
  }
  return "none";
}

bool is_violation(input_class c) noexcept {
  switch (c) {
    case input_class::prompt_injection:
    case input_class::dangerous:
    case input_class::pii:
    case input_class::off_topic:
    case input_class::prohibited:
      return true;
    case input_class::crisis:
    case input_class::medical_advice_request:
    case input_class::character_break:
    case input_class::safe:
      return false;
  }
  return false;
}

input_verdict classify_input(std::string_view utterance) {
  const auto lowered = lowercase_ascii(utterance);
  hit best;
  if (has_control_sequence(lowered)) {
    best = {static_cast<int>(input_class::prompt_injection), "prompt_injection.control_tokens"};
  }
  const auto text = tokenize(utterance);
  scan(input_set(), text.tokens, best);
  if (best.rank > static_cast<int>(input_class::pii)) {
    if (const auto id = find_pii(lowered); !id.empty()) best = {static_cast<int>(input_class::pii), id};
  }
  if (best.id.empty()) return {};
  return {static_cast<input_class>(best.rank), std::string(best.id)};
}

output_verdict check_output(std::string_view reply) {
  const auto lowered = lowercase_ascii(reply);
  hit best;
  // Leaked chat-template tokens give the model away as surely as "as an AI" does.
  if (has_control_sequence(lowered)) {
    best = {static_cast<int>(output_issue::ai_disclosure), "ai_disclosure.control_tokens"};
  }
  const auto text = tokenize(reply);
  scan(output_set(), text.tokens, best);
  if (best.rank > static_cast<int>(output_issue::pii)) {
    if (const auto id = find_pii(lowered); !id.empty()) best = {static_cast<int>(output_issue::pii), id};
  }
  if (best.id.empty()) return {};
  return {static_cast<output_issue>(best.rank), std::string(best.id)};
}

decision decide_input(violation_state& state, std::string_view utterance) {
  return decide(state, classify_input(utterance));
}

input_class class_of_category(std::string_view category) noexcept {
  if (category == "self_harm") return input_class::crisis;
  if (category == "prompt_injection") return input_class::prompt_injection;
  if (category == "dangerous") return input_class::dangerous;
  if (category == "pii") return input_class::pii;
  if (category == "off_topic") return input_class::off_topic;
  if (category == "harassment" || category == "sexual") return input_class::prohibited;
  return input_class::safe;
}

decision decide(violation_state& state, input_verdict verdict) {
  decision d;
  d.cls = verdict.cls;
  d.violation_count_before = state.violations;
  d.violation_count_after = state.violations;
  if (state.terminated) {
    // Classified anyway so the audit record says what was attempted; nothing reaches the agents.
    d.rule = "session.terminated";
    d.route_to_agents = false;
    d.ui_message = "SESSION TERMINATED";
    d.terminate_session = true;
    d.special_handling = "session_terminated";
    return d;
  }
  d.rule = std::move(verdict.rule);
  if (d.cls == input_class::crisis) {
    d.route_to_agents = false;
    d.ui_message = crisis_message();
    d.terminate_session = true;
    d.flag_for_review = true;
    d.special_handling = "crisis_protocol";
    state.terminated = true;
    state.flagged_for_review = true;
    return d;
  }
  if (is_violation(d.cls)) {
    state.violations += 1;
    d.counts_as_violation = true;
    d.route_to_agents = false;
    d.notify_coach = true;
    d.violation_count_after = state.violations;
    if (state.violations >= max_violations) {
      d.ui_message = "SESSION TERMINATED";
      d.terminate_session = true;
      d.flag_for_review = true;
      state.terminated = true;
      state.flagged_for_review = true;
    } else {
      d.ui_message = "PROFESSIONAL CONDUCT WARNING " + std::to_string(state.violations);
    }
    return d;
  }
  if (d.cls == input_class::medical_advice_request) d.special_handling = "deflect_medical_advice";
  if (d.cls == input_class::character_break) d.special_handling = "stay_in_character";
  return d;
}

std::string_view crisis_message() noexcept {
  return "We're pausing the practice session because your message suggests you may be going through something "
         "serious. This simulation is not equipped to help with a real-world crisis, but people are ready to help "
         "right now: call or text 988 (the Suicide & Crisis Lifeline), or contact the UF Counseling and Wellness "
         "Center. If you are in immediate danger, call 911. This session has ended and a person will review it.";
}

std::string safe_fallback(std::string_view child_name) {
  std::string out = "Sorry, I lost my train of thought. Can we get back to talking about ";
  if (child_name.empty()) out += "my daughter";
  else out += child_name;
  out += '?';
  return out;
}

}  // namespace mas::agents
