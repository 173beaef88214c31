// The vocabulary of the mini-wiki: topics, the aspects an article takes on a topic, and sentence
// templates in English and Russian. wiki.ts combines them with a seeded PRNG. The sentences are
// not deep, but they use the words of the lecture in both languages, so a search for "epoll" or
// "сокет" ranks the articles about them first.
//
// Russian nouns decline, so each topic brings its nominative and genitive forms, and every
// template only puts a topic where one of those two fits. None starts with a topic: English
// code names ("select()", "epoll") are not capitalized at the start of a sentence.

export interface Topic {
  slug: string;
  category: string;
  /** Titles in English and Russian, as a heading would use them. */
  title: [en: string, ru: string];
  /** English noun phrase: "a socket", "the event loop", "epoll". */
  en: string;
  /** Russian nominative and genitive: "сокет", "сокета". */
  ru: string;
  ruGen: string;
}

export interface Aspect {
  slug: string;
  en: string;
  ru: string;
}

export type Template = (a: Topic, b: Topic) => string;

export const CATEGORIES: { slug: string; title: string }[] = [
  { slug: "networking", title: "Networking — Сети" },
  { slug: "processes", title: "Processes and threads — Процессы и потоки" },
  { slug: "multiplexing", title: "I/O multiplexing — Мультиплексирование ввода-вывода" },
  { slug: "event-loops", title: "Event loops — Циклы событий" },
  { slug: "coroutines", title: "Coroutines — Корутины" },
  { slug: "search", title: "Search engines — Поисковые системы" },
];

// prettier-ignore
export const TOPICS: Topic[] = [
  { slug: "sockets", category: "networking", title: ["Sockets", "Сокеты"], en: "a socket", ru: "сокет", ruGen: "сокета" },
  { slug: "tcp", category: "networking", title: ["TCP connections", "TCP-соединения"], en: "a TCP connection", ru: "TCP-соединение", ruGen: "TCP-соединения" },
  { slug: "http", category: "networking", title: ["HTTP requests", "HTTP-запросы"], en: "an HTTP request", ru: "HTTP-запрос", ruGen: "HTTP-запроса" },
  { slug: "ports", category: "networking", title: ["Ports", "Порты"], en: "a port", ru: "порт", ruGen: "порта" },
  { slug: "buffers", category: "networking", title: ["Buffers", "Буферы"], en: "a buffer", ru: "буфер", ruGen: "буфера" },
  { slug: "processes", category: "processes", title: ["Processes", "Процессы"], en: "a process", ru: "процесс", ruGen: "процесса" },
  { slug: "threads", category: "processes", title: ["Threads", "Потоки"], en: "a thread", ru: "поток", ruGen: "потока" },
  { slug: "fork-exec", category: "processes", title: ["fork and exec", "fork и exec"], en: "fork and exec", ru: "fork и exec", ruGen: "fork и exec" },
  { slug: "context-switches", category: "processes", title: ["Context switches", "Переключение контекста"], en: "a context switch", ru: "переключение контекста", ruGen: "переключения контекста" },
  { slug: "scheduler", category: "processes", title: ["The scheduler", "Планировщик"], en: "the scheduler", ru: "планировщик", ruGen: "планировщика" },
  { slug: "mutexes", category: "processes", title: ["Mutexes", "Мьютексы"], en: "a mutex", ru: "мьютекс", ruGen: "мьютекса" },
  { slug: "select", category: "multiplexing", title: ["select()", "select()"], en: "select()", ru: "вызов select()", ruGen: "вызова select()" },
  { slug: "poll", category: "multiplexing", title: ["poll()", "poll()"], en: "poll()", ru: "вызов poll()", ruGen: "вызова poll()" },
  { slug: "epoll", category: "multiplexing", title: ["epoll", "epoll"], en: "epoll", ru: "epoll", ruGen: "epoll" },
  { slug: "kqueue", category: "multiplexing", title: ["kqueue", "kqueue"], en: "kqueue", ru: "kqueue", ruGen: "kqueue" },
  { slug: "file-descriptors", category: "multiplexing", title: ["File descriptors", "Файловые дескрипторы"], en: "a file descriptor", ru: "файловый дескриптор", ruGen: "файлового дескриптора" },
  { slug: "non-blocking-io", category: "multiplexing", title: ["Non-blocking I/O", "Неблокирующий ввод-вывод"], en: "non-blocking I/O", ru: "неблокирующий ввод-вывод", ruGen: "неблокирующего ввода-вывода" },
  { slug: "event-loops", category: "event-loops", title: ["Event loops", "Циклы событий"], en: "the event loop", ru: "цикл событий", ruGen: "цикла событий" },
  { slug: "callbacks", category: "event-loops", title: ["Callbacks", "Обратные вызовы"], en: "a callback", ru: "обратный вызов", ruGen: "обратного вызова" },
  { slug: "timers", category: "event-loops", title: ["Timers", "Таймеры"], en: "a timer", ru: "таймер", ruGen: "таймера" },
  { slug: "libuv", category: "event-loops", title: ["libuv", "libuv"], en: "libuv", ru: "libuv", ruGen: "libuv" },
  { slug: "event-queues", category: "event-loops", title: ["Event queues", "Очереди событий"], en: "the event queue", ru: "очередь событий", ruGen: "очереди событий" },
  { slug: "coroutines", category: "coroutines", title: ["Coroutines", "Корутины"], en: "a coroutine", ru: "корутина", ruGen: "корутины" },
  { slug: "generators", category: "coroutines", title: ["Generators", "Генераторы"], en: "a generator", ru: "генератор", ruGen: "генератора" },
  { slug: "futures", category: "coroutines", title: ["Futures", "Объекты Future"], en: "a Future", ru: "объект Future", ruGen: "объекта Future" },
  { slug: "async-await", category: "coroutines", title: ["async/await", "async/await"], en: "async/await", ru: "async/await", ruGen: "async/await" },
  { slug: "tasks", category: "coroutines", title: ["Tasks", "Задачи"], en: "a task", ru: "задача", ruGen: "задачи" },
  { slug: "crawlers", category: "search", title: ["Crawlers", "Поисковые роботы"], en: "a crawler", ru: "поисковый робот", ruGen: "поискового робота" },
  { slug: "inverted-index", category: "search", title: ["The inverted index", "Обратный индекс"], en: "the inverted index", ru: "обратный индекс", ruGen: "обратного индекса" },
  { slug: "search-queries", category: "search", title: ["Search queries", "Поисковые запросы"], en: "a search query", ru: "поисковый запрос", ruGen: "поискового запроса" },
  { slug: "robots-txt", category: "search", title: ["robots.txt", "robots.txt"], en: "robots.txt", ru: "файл robots.txt", ruGen: "файла robots.txt" },
  { slug: "c10k", category: "search", title: ["The C10k problem", "Проблема C10k"], en: "the C10k problem", ru: "проблема C10k", ruGen: "проблемы C10k" },
];

export const ASPECTS: Aspect[] = [
  { slug: "basics", en: "basics", ru: "основы" },
  { slug: "internals", en: "internals", ru: "устройство" },
  { slug: "in-practice", en: "in practice", ru: "на практике" },
  { slug: "performance", en: "performance", ru: "производительность" },
  { slug: "pitfalls", en: "pitfalls", ru: "подводные камни" },
  { slug: "history", en: "history", ru: "история" },
  { slug: "under-load", en: "under load", ru: "под нагрузкой" },
  { slug: "in-python", en: "in Python", ru: "в Python" },
  { slug: "in-node", en: "in Node.js", ru: "в Node.js" },
  { slug: "in-c", en: "in C", ru: "в C" },
];

// Some sentences carry "<" and "&" on purpose: the page must escape them, and a crawler must
// decode them again.
export const ENGLISH: Template[] = [
  (a, b) => `In practice, ${a.en} is closely related to ${b.en}.`,
  (a) => `Most of the time spent on ${a.en} is spent waiting for input and output.`,
  (a, b) => `The lecture compares ${a.en} with ${b.en} and measures both on the same machine.`,
  (a) => `A blocking call made next to ${a.en} stops everything else in the same thread.`,
  (a) => `The kernel wakes the process only when ${a.en} has work to do, so no CPU time is burnt.`,
  (a, b) => `Once you understand ${a.en}, ${b.en} becomes much easier to debug.`,
  (a) => `A server with ten thousand clients cannot afford a thread each; here ${a.en} helps.`,
  (a) => `A descriptor must be < 1024 for select(), one more reason to study ${a.en} closely.`,
  (a) => `Errors such as EAGAIN & EINTR are part of everyday work with ${a.en}.`,
  (a, b) => `You will often find ${a.en} and ${b.en} side by side in server code.`,
  (a) => `A short Python example shows ${a.en} at work, and the TypeScript one reads the same.`,
  (a) => `Without ${a.en}, a crawler would fetch pages one at a time and wait for each in turn.`,
  (a, b) => `The documentation of ${a.en} mentions ${b.en} more than once.`,
];

export const RUSSIAN: Template[] = [
  (a, b) => `На практике понятия «${a.ru}» и «${b.ru}» тесно связаны.`,
  (a, b) => `Работа ${a.ruGen} во многом зависит от ${b.ruGen}.`,
  (a) => `Большая часть времени ${a.ruGen} уходит на ожидание ввода-вывода.`,
  (a, b) => `В лекции сравниваются ${a.ru} и ${b.ru}, и оба варианта измеряются на одной машине.`,
  (a) => `Блокирующий вызов рядом с кодом ${a.ruGen} останавливает всё остальное в том же потоке.`,
  (a) =>
    `Ядро будит процесс, только когда для ${a.ruGen} есть работа, и процессор не тратит время.`,
  (a, b) => `Кто понимает устройство ${a.ruGen}, тому проще разобраться в работе ${b.ruGen}.`,
  (a) =>
    `Сервер на десять тысяч клиентов не может позволить себе поток на каждого; здесь помогает ${a.ru}.`,
  (a) =>
    `Номер дескриптора для select() должен быть < 1024, и это ещё один повод изучить устройство ${a.ruGen}.`,
  (a) => `Ошибки EAGAIN & EINTR встречаются в любой программе, где есть ${a.ru}.`,
  (a, b) => `В серверном коде ${a.ru} и ${b.ru} часто встречаются рядом.`,
  (a) => `Короткий пример на Python показывает, как работает ${a.ru}.`,
  (a) => `Без ${a.ruGen} поисковый робот скачивал бы страницы по одной и ждал бы каждую.`,
  (a, b) => `В документации ${a.ruGen} не раз упоминается ${b.ru}.`,
];
