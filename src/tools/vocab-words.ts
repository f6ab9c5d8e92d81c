/**
 * Word lists for the generated tiny BERT model (`tiny-bert.ts`). Data only: the vocabulary is
 * assembled and validated there. HAND_WORDS are chosen for code search; MINED_WORDS were taken
 * once from the most frequent camelCase/snake_case parts of identifiers in this repository's
 * node_modules (.d.ts/.js/.md files), hex-like fragments removed, and frozen here so the model
 * never changes when dependencies do.
 */

/** Hand-picked programming and everyday English words. */
export const HAND_WORDS = `
abort absolute abstract accept access account action activate active actor adapter add address admin
after agent aggregate alert algorithm alias align allocate allow amount analyze anchor angle
animation annotation answer api app append application apply archive area argument arg args array
arrow ascending ask assert asset assign async attach attempt attribute audio audit auth author auto
available average avatar await back backend background backoff backup balance bar base batch before
begin benchmark binary bind bit bitmap blob block body bool boolean boot border bottom bound
boundary box branch break browser bucket buffer bug build builder bundle button byte cache calculate
calendar call callback cancel canvas capacity capture card cart case cast catalog category cell
center chain change channel char character chart chat check checkbox checkout checksum child
children chunk circle claim class clean cleanup clear click client clip clock clone close cloud
cluster code codec collapse collect collection color colour column combine command comment commit
compare compile complete component compress compute concat concurrency condition config
configuration connect connection console constant constraint construct consume consumer contact
container content context continue control controller convert cookie coordinate copy core cost count
counter country coverage cpu crash create credential credentials cron crypto css csv currency
current cursor curve custom customer cycle daemon dashboard data database datastore date datetime
day db debounce debug decimal declare decode decorator decrement decrypt default defer define delay
delete delta dependency deploy depth descending describe deserialize design destination destroy
detach detail detect device diff digest digit dimension dir direction directory disable disconnect
disk dispatch display dispose distance divide dns doc docker document dom domain double download
draft drag draw driver drop dump duplicate duration dynamic edge edit editor element email embed
embedding emit empty enable encode encoding encrypt end endpoint engine entity entry enum env
environment equal equals erase err error escape evaluate event exception exec execute exist exit
expand expire export expression extend extension extract factory fail failure fake fallback fault
feature feed fetch field file filename filter final find finish first fixture flag flatten float
flush focus folder font footer force fork form format forward frame framework free frequency front
frontend full function future game gateway generate generator geometry get getter git global goal
gpu grade graph grid group guard handle handler hash hashmap header heap height helper hidden hide
highlight history hit home hook host hour html http https icon id identifier identity idle ignore
image import inbox increment indent index info init initialize inject inline input insert install
instance integer interface internal interval invalid inventory invoice invoke item iterator job join
json jwt kernel key keyboard keyword kind label language large last latency launch layer layout lazy
leaf left length level library license limit line link lint list listen listener literal load loader
local locale location lock log logger login logout lookup loop lower main manager manifest map
mapping margin mark markdown marker mask match math matrix max measure media memo memoize memory
menu merge message meta metadata method metric middleware migrate migration min minute mock modal
mode model modify module monitor month mouse move multiply mutate mutex name namespace native
navigate network node normalize notification notify null number numeric object observer offset
online open operation operator option optional options order origin output overflow owner package
padding page pagination panel param parameter parent parse parser partition password patch path
pattern pause payload payment peer pending permission persist phone pipeline pixel placeholder
platform player plugin point pointer policy poll pool popup port position post postgres preference
preferences prefix prepare preview price primary print priority private process producer product
profile progress project promise prompt property protocol provider proxy publish pull purge push
query queue quick random range rank rate read reader ready receive record rect rectangle redirect
reduce ref refactor reference refresh regex region register registry reject release reload remote
remove render repeat replace reply repo report repository request require reset resize resolve
resource response rest restore result resume retry retrieve return reverse role rollback root rotate
round route router row rule run runtime safe salt sample sanitize save scale scan schedule scheduler
schema scope score screen script scroll search second secret section secure security seed segment
select selector semaphore send sensor sequence serialize serializer server service session set
setter settings setup shape share shell shift shortcut show shutdown sign signal signin signout
signup size skip sleep slice slot snapshot socket sort source span spec split sql sqlite stack stage
start state static stats status step stop storage store stream string style submit subscribe
subscription suffix sum summary support swap switch symbol sync syntax system tab table tag tail
target task template tenant test text texture theme thread threshold throttle ticket time timeout
timer timestamp title toggle token tokenize tool tooltip top topic total trace track transaction
transform translate transport tree trigger trim truncate tuple type undo unique unit unlink unlock
unpack unzip update upgrade upload upper uri url usage user username util utils uuid valid validate
validation validator value variable vector velocity verify version video view viewport visible visit
volume wait warning watch watcher web webhook widget width window worker workflow wrap wrapper write
writer xml yaml year zip zone zoom ctx impl src dst tmp temp prev idx len str num obj arr buf cfg
conf msg req res resp err val args opts props params attrs elem ptr ref refs fn cb evt btn nav img
auth db sql orm api cli gui ui ux os fs io ip tcp udp ssl tls ssh ftp smtp dns html css json xml
yaml toml csv pdf png jpg svg gif utf ascii unicode regex glob npm pip cargo maven gradle webpack
vite babel react vue angular svelte django flask rails spring express node deno python java rust
golang kotlin swift ruby php perl scala haskell javascript typescript linux windows macos android
ios hello world good bad new old big small first last next previous left right up down open close
before after always never sometimes many much more less most least other another same different
simple complex easy hard fast slow quick early late high low long short full empty true false real
fake public private secret shared common special general main extra basic advanced default custom
local global internal external upper lower inner outer single double multiple whole part half
quarter zero one two three four five six seven eight nine ten hundred thousand million people person
man woman child family friend team company business work job money price market customer product
service order pay buy sell cost store shop bank card cash credit debit tax fee discount coupon
reward point score level game play player win lose match round turn move step walk run jump sit
stand stay go come leave arrive return travel trip road street city country state home house room
door window wall floor kitchen table chair bed car bus train plane ship bike boat water fire air
earth sun moon star sky rain snow wind weather cold hot warm cool light dark color red green blue
yellow black white gray brown pink orange purple morning evening night today tomorrow yesterday week
weekend month year hour minute second moment season spring summer autumn winter birthday holiday
food drink coffee tea milk bread fruit apple meat fish rice sugar salt water book page letter word
sentence story news paper article blog post comment review question answer problem solution idea
reason result example case fact truth lie mind heart body head hand eye face voice sound music song
movie picture photo art design style fashion health doctor hospital medicine school student teacher
class lesson course exam grade university science math physics chemistry biology history language
english law rule police government election vote war peace army nature animal dog cat bird tree
flower plant garden farm`;

/** Frequent identifier parts mined from node_modules (see the file comment). */
export const MINED_WORDS = `
the from for const use this exports and with that not returns var strict has undefined all void are
constructor types any can will when used extends else typeof only let throw which com see have org
should given eslint values microsoft using each like you under copyright but while keys whether
without properties non github docs mit was then provided try unknown names corporation licensed
arguments some must readonly prototype catch since may into required own instead rules creates
errors azure make definition out does additional description there its otherwise than messages
following need member specified supported also either note authentication contains parameters
deprecated allowed func checks methods based don requests information specific includes been
implementation generated ast they found being passed objects returned recommended where lib
functions called headers latest these include enumerable between cannot gets already www such ensure
because here defaults them expected over failed allows reg files exp including starts except both
about now super strings pass tokens just raw through characters doesn defined containing every once
their missing matches implements created fileoverview descriptor details instanceof parsed items foo
issues results want uses your how entries keep automatically possible would program fix elements
msal maximum still enabled int per scopes interfaces done helpers compatibility multi throws way
thrown references variables useful flow pop within even uint added exists might writable contain
avoid declaration mod until stringify original calls parsing what behavior determine ids configure
setting paths existing bytes needed cases initial supports desc removed tests nodes constants
provides binding currently performance inside against running well directly built flags readable
codes resolved space take means parts matching please requires logging those sets override prop
could changes reserved via arrays relative ignored itself unexpected configurable present infinity
disallow none needs deep purpose particular known represents calling suggestion included provide
documentation were adds nodejs fails cached versions named statement sub creating attributes partial
conditions users replaced above authority developer dependencies something ends times equivalent
rights makes requirements regular comments off actual received specify unsafe encoded leading unless
milliseconds todo self authorization related implied assignment rather prevent longer correlation
nothing indicates flat explicitly trailing assertion updated fields patterns tracing invoked keyof
whitespace union iterable master aborted cwd side pairs nested llama works legacy signature loc
events negative minimum npmjs during dev associated expressions made changed pre necessary success
matched determines anything disabled inspect dot closing separator authenticate wrapped later
numbers fixer cause etc written yet yield plain standard sure however below services due enables
tses esm starting corresponding sent checked representing similar considered removes iteratee
explicit iteration whose warn predicate classes finally iterate isn working follow prefer checking
making modified immediately optionally learn definitions promises weak remaining pair issue consider
know resolves lines converted actions passing proto retries applications returning look defines
unavailable successful escaped computed fixable stat won omit around generic warranties closed
splice protected infer scheme contents correct positive fitness compatible guide enforce exclude
greater href assigned put utility modules normal configured adding handled started wiki rfc our
handling underlying reports responses again converts perform typed testing obtain bearer parses
unsupported processing completed takes badge notice handlers rejected fragment comma actually too
loaded accepts strip features expect fixed regexp pick slash permissions ecma chars readme challenge
policies additionally extensions entra shields outside terminal symbols seconds logic packages pipe
stdout examples help software deleted recursively attempts mozilla members pos verbose requested
operations opening logs unnecessary entire brace limited declared limitation applied appropriate
extended callee declarations resulting claims configuring supplied preserve relevant unshift broker
across strategy direct certain everything streams conditional handles treated better wikipedia fest
acquire instances maybe loading major ansi comparison followed runs hex downloads licenses
normalized clause programmatic stored registration regenerate depending installation difference upon
plus dirname points telemetry tags states beginning subject structure npx unused unary sdk
experimental segments execution identifiers bash stderr represented intended whatwg faster various
spread finite treat separate emitted indicating replacement consistent formatting exactly higher
implicit moved got getting workspace bracket silent libs best fill groups cpp tools travis
environments representation insecure continuation effect recursive limitations flows able resolution
why exported forms mjs very spaces matcher apache net entities emitter generates writing hub links
occur sorted follows aliases separated mapped certificate substring literals specifies managed did
tested place nullable overrides transfer reported successfully creation resources having alternative
individual thing subsequent istanbul tape primitive had reasons braces exponential expires typespec
serialized serialization updates cross omitted txt exact fully compliance ext ret disposed stylistic
configs interaction unescape filters listeners aka bigint fixes bin along according sindresorhus
plugins internally things unix gen assumed indicate grammar domhandler components expose consumed
caching waiting typedef basis opt quote posix previously specifier retrieved defs quoted removing
properly automatic exceeded statements production throwing signed dispatcher callbacks underscore
authenticates reading failures visual enough signatures interactive evaluation contributors compact
imports noop pad caller lodash jsx quotes determined enter reached models asynchronous manually
infringement overridden processed decoder sec undici keywords together suggestions likely specifying
regardless sensitive shorthand indices governing addition unlike usually traverse steps few annotate
aren intersection sending scenarios executed developers contract decoding suggest lifecycle
important colon ranges functionality filtered vars bindings schemes composite merchantablity checker
semver combined though parallel implement persistence clients gguf doing limits changelog conversion
slashes globals implemented applies logical inclusive purposes installed insensitive calculated
produce sources argv selectors ensures meaning directories happen broken multipart skipped logged
oauth tenants basename lang builds compiled performed builtin passes square severity age escaping
tokenizer visitor customize retrieves merged formatted contributing damages liable ones traversal
escapes ignores ending formatter synchronous mean notation maintains modifying occurred words
backwards improve commands columns finished accessor authorize phase blocks safely completely medium
detected lists ietf trying cheerio digits pretty providing exclusive shall magic allowing remain
semicolon declarator lead referenced ended seen indexes negate chalk studio decoded alt thus simply
comes marked registered directive silently buffers workflows changing probably symbolic sequences
pkg div away bugs represent frozen cxt copies converting caches prepend fit mixed listed eval
inherited live resolving formats minus others selected wrong wrapping occurs finds strong pathname
nullish tracking surrogate tagged alternate wraps applicable endpoints third adjacent browsers who
fatal perf reflect hostname estree ajv discovery become enoent substr potential arising inputs
happens mac liability pow several lowercase precedence replaces validated hint generation tester
appear releases going potentially negated inserted performs assume tar warnings encodes libraries
alpha updating minimatch operators modifiers described recursion disables nicholas zakas snippet
correctly further parents released hexadecimal fulfilled compose dictionary deps refer community
coerce affect utilities sibling rows neither intl caused fall del desired sha terminated locations
reporting guaranteed eof holders alloc accepted toru nagashima pure larger convenience styles
modifier chunks throttling secretlint codegen days combination ever sep newline increase deletes
identical overwrite therefore satisfies verification maintainers debugging cjs looks middle
completion shouldn entirely debugger arbitrary belongs validates plan development modification
copied truthy designed platforms drain excluded destructuring suppress scoped indexed retrying
scripts inverse authors permitted configurations expanded far presence attempting whatever past
streaming produces expired pseudo diagnostics queued vso reads maintenance care separators levels
triggers paused optimization ctor minor unicorn risk parens parentheses initializer matter alive
generating gbnf stars vulnerability immediate aware tick synchronously tasks period uid contained
accessed kept ver ceil detailed choose baz didn destroyed breaking building tort freeze iterating
querying tsutils blank tidelift specification iterates fetching invokes outgoing guid strategies
circuit deprecating whenever older targets instantiation readdir comparisons rejection generally
colors term circular delimiter retain typings compiler executes versioning normally charset
typically threads linked chained evaluated constituents easily compared lru minimal backward
specifically attr taken projects sch interceptor yml apps expr speed human receives backslash figure
dependent chaining closes behalf expansion ancestor lstat processes stale subset extracted keeps
restricted decompress schemas multipage abs give prior caution triggered systems possibly executable
iso expiration exponentially constructors restrict cancelled caught linter mtime portion mechanism
assertions helps resets notes site nth newly unreachable doctype precision operating metrics recent
mfa writes cap incorrect construction dots emits portions calculation sizes internals ignoring
concurrent cmd inherits shallow selection power textlint clamped manage holds sup identify manual
gid tell nor initialized maps percent looking complexity loss met controls incoming increasing
optimized curly distribute encountered filesystem ops dist pem wildcard uppercase paren effective
urls cloned documents party semantic ways assignments traversing shown detection tries bounds
truncated guards criteria connected workload codecov skipping documented suitable deal international
symlink instantiate col mime bom exceptions marks directives hosts intrinsic cdata mapper decodes
tsp bases qualified contexts refers minipass descendant consumption peek utm excluding exposed
useless rejects often consequent cased imported overriding resolver localhost counts malformed azsdk
amp esnext distribution warranty describes isaacs tuples unref campaign goes appended equality
tsconfig friendly dict msi inheritdoc rename breaks derived respectively interpreted optimize ttl
amd referral stripped combining embedded advance attached conflict initialization decorators factor
signals stable templates opened executor sends basem commits separately instructions nocase overhead
taking overview bold architecture causes programs stdin loose camel creator choice questions arm
logo canonical restriction lot repeated effects nesting descriptors produced preferred specifiers
integers bun clears vss published issued naming indirect advised semantics concept globstar slower
gives conflicts unset errno eslintrc giving consecutive loads avoids preserved calculates
instruction structured pipelines lvl merges ordered race smaller letters problems especially
vertical prints records dash bits invocation storing depends timing recently scenario disposable
executing tried expects yargs describing nonce octet jquery preset possibility impossible
backslashes stuff processor modern dim inherit getters validating normalizes stores accounts merging
percentage redirects wam relay brackets thanks keeping grant adjust infinite failing extglob
commonjs prevents timers subarray punctuator modes coveralls virtual eos implies suppressed fetched
intermediate awaited machine intentionally visited abortable holder noext occurrence reuse yes
indicator appears siblings replacer refreshing linting rendered coerced connections ggml fine
requiring traversed dispatched unbounded increases granted fullwidth gzip welcome spawn parenthesis
raised preceding branches dropped unchanged identifies persistent normalization hold primarily
invoking htmlparser markup receiving capabilities vocabulary supporting namespaces permit charge
ancestors engines asynchronously sense earlier simplify ram mid portable although analysis protocols
tty constrained mixin redundant effectively outputs supply meant becomes exceed transforms immutable
magical constructed folders walking proof twitter unified primitives removal attacks really mostly
semi stops ahead parsers anonymous management safety operands zlib utc fires keyed arch specialized
enums imds quot consequential proper exposes searching miss efficient hereby whom bright easier
delayed saved exclamation exceeds skips deferred yarn deeply iterated standalone waits succeeded
thought ljharb shows mismatch anywhere choices duplicates sections microtask understand rely
insertion definitely deleting defining positions pages garbage lost queries challenges withcat
negation descriptions filenames validity anyway yourself obtaining consumers cmake sindre sorhus
enterprise seq comparing moves usr almost illegal eventually yields requesting applying attachment
partially recurse collected unwrap authenticated consts respect foundation reused delimited
unescaped emitting bump confusing fewer cyan significantly impact places labeled floating saw twice
trimmed technically soon falls stub thenable smallest statistics invert shorthands compilation
connecting tensor vram breaker minutes themselves organization pack std unable little discarded dest
ino superset cls mathiasbynens exe replacing temporary machines overwritten renamed displayed falsy
quirks padded preserves compressed bag issuer acts variant tfs multiline customization satisfy
exchange adapters introduced enclosing contribute terminate damage attempted joined filtering
substantial compiles terminator unsigned depend encoder operand mandatory leaving reproduce awaiter
develop foreign universal jinja bypass comparator trailers pkce graphs incompatible newer ambiguous
stringified bare dirent darwin flip furnished sublicense dealings persons filepath magenta italic
ordering revision stays forbidden vary counting mail proceed hooks attention mailto profits
negligence theory attribs decide practice addresses ability integration populate locate think
composed errs wrappers dry nil`;

/** English stop words: kept in the vocabulary but given small vectors so they do not dominate. */
export const STOP_WORDS = `
the a an of to is are was were be been being in on at by with as and or but not no nor it its
that these those there their they them we you your our us he she his her him i me my mine who
whom whose which what how why where when than then so very just also about above below over under
again further once here both few more most other some such only own same too up down out off into
onto upon do does did done has have had having will would can could should may might must shall
am any each all every via per etc yet still even much many well
`;

/** Keywords of common languages: so frequent in code that they would swamp the signal. */
export const KEYWORDS = `
function return const let var def class self this public private protected static void int if
else elif for while switch case break continue import from export new try catch finally throw
throws raise async await yield true false null undefined none nil typeof instanceof extends
implements interface type enum struct fn func pub mut impl namespace using include
lambda pass global nonlocal del val object super override virtual abstract final readonly
unsigned signed char long short double float bool boolean string number void end require
exports of in is not and or as with go defer chan where do then fi
`;

/**
 * Synonym groups: the words of one group get vectors close to each other (cosine about 0.8),
 * which gives the bag-of-tokens model a little real semantics for tests and demos.
 */
export const SYNONYM_GROUPS: readonly (readonly string[])[] = [
  ['remove', 'delete', 'erase', 'drop', 'destroy', 'purge', 'unlink', 'discard'],
  ['config', 'configuration', 'settings', 'setting', 'options', 'preferences', 'preference', 'prefs', 'setup', 'cfg', 'conf'],
  ['fetch', 'download', 'retrieve', 'get', 'obtain', 'pull'],
  ['error', 'exception', 'failure', 'fault', 'err', 'crash'],
  ['auth', 'authenticate', 'authentication', 'login', 'signin', 'logon', 'credential', 'credentials'],
  ['logout', 'signout', 'logoff'],
  ['create', 'make', 'build', 'construct', 'generate', 'spawn'],
  ['find', 'search', 'lookup', 'query', 'locate', 'seek'],
  ['start', 'launch', 'init', 'initialize', 'boot', 'startup'],
  ['stop', 'halt', 'terminate', 'finish', 'kill', 'abort', 'cancel'],
  ['send', 'emit', 'dispatch', 'post', 'publish', 'transmit'],
  ['receive', 'accept', 'consume', 'subscribe', 'listen'],
  ['save', 'store', 'persist', 'write', 'dump'],
  ['load', 'read', 'open', 'restore'],
  ['update', 'modify', 'change', 'edit', 'alter', 'patch', 'mutate'],
  ['add', 'insert', 'append', 'push', 'put'],
  ['check', 'validate', 'verify', 'assert', 'ensure', 'validation'],
  ['parse', 'decode', 'deserialize', 'unmarshal', 'unpack', 'parser'],
  ['serialize', 'encode', 'marshal', 'stringify', 'pack'],
  ['user', 'account', 'member', 'customer', 'profile', 'person', 'username'],
  ['list', 'array', 'collection', 'sequence', 'arr'],
  ['map', 'dictionary', 'dict', 'hashmap'],
  ['count', 'size', 'length', 'total', 'len', 'tally'],
  ['sort', 'order', 'arrange', 'rank', 'ordering'],
  ['filter', 'pick', 'choose', 'exclude'],
  ['copy', 'clone', 'duplicate', 'replicate'],
  ['compare', 'diff', 'equal', 'equals'],
  ['merge', 'combine', 'join', 'concat', 'union'],
  ['split', 'divide', 'separate', 'partition', 'chunk'],
  ['show', 'display', 'render', 'draw', 'print'],
  ['hide', 'conceal', 'invisible', 'hidden'],
  ['wait', 'sleep', 'delay', 'pause', 'timeout'],
  ['retry', 'repeat', 'attempt', 'retries'],
  ['cache', 'memo', 'memoize', 'memoization'],
  ['log', 'logger', 'logging', 'trace'],
  ['message', 'notification', 'alert', 'notice', 'msg', 'notify'],
  ['image', 'picture', 'photo', 'img', 'icon'],
  ['file', 'document', 'doc'],
  ['folder', 'directory', 'dir'],
  ['url', 'uri', 'link', 'href', 'route'],
  ['password', 'passwd', 'passphrase', 'secret'],
  ['email', 'mail', 'inbox'],
  ['request', 'req', 'http', 'api'],
  ['response', 'resp', 'reply', 'res'],
  ['server', 'host', 'backend', 'service'],
  ['client', 'frontend', 'browser'],
  ['database', 'db', 'datastore', 'sqlite', 'postgres', 'mysql', 'sql'],
  ['test', 'spec', 'fixture', 'mock', 'stub', 'fake'],
  ['date', 'time', 'timestamp', 'datetime', 'clock', 'calendar'],
  ['integer', 'numeric', 'digit', 'decimal'],
  ['text', 'str', 'characters', 'chars'],
  ['convert', 'transform', 'translate', 'cast'],
  ['calculate', 'compute', 'evaluate', 'calc'],
  ['connect', 'attach', 'bind', 'connection'],
  ['disconnect', 'detach', 'unbind'],
  ['run', 'execute', 'exec', 'invoke', 'call'],
  ['close', 'shutdown', 'dispose', 'cleanup', 'teardown'],
  ['event', 'signal', 'trigger', 'evt'],
  ['permission', 'privilege', 'role', 'authorization', 'access'],
  ['price', 'cost', 'fee', 'charge'],
  ['payment', 'billing', 'invoice', 'checkout'],
  ['color', 'colour', 'rgb', 'hue'],
  ['resize', 'scale', 'zoom'],
  ['big', 'large', 'huge'],
  ['small', 'tiny', 'little', 'mini'],
  ['fast', 'quick', 'rapid', 'speed'],
  ['upload', 'uploader'],
  ['token', 'jwt'],
  ['argument', 'arg', 'args', 'param', 'parameter', 'params'],
  ['callback', 'handler', 'listener', 'hook'],
];
