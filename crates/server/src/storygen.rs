//! `POST /api/stories/generate`: a new story written from templates, in any of the five
//! languages, about a hero (name, age, traits, appearance, special ability) and an event
//! (a fixed [`EventType`] or one of the user's custom events). Deterministic: the same
//! input always gives the same title and text. No external service.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use is_protocol::story::TITLE_MAX as TITLE_MAX_STORY;
use is_protocol::{
    CustomEvent, CustomEventRecord, EventType, FieldError, GenerateStoryRequest, Hero, HeroRecord,
    HeroTrait, Language, Story, StoryInput, StoryLength, StoryRecord,
};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, Json};
use crate::imaging::seed_of;
use crate::rest::resource::Resource;
use crate::rest::{respond_create, with_etag};
use crate::table::{self, CreateOutcome};
use crate::usage::{self, UsageKind};
use crate::AppState;

/// The words and templates of one language.
struct Lang {
    and: &'static str,
    /// Trait nouns (with their article where the language needs one), in
    /// [`HeroTrait::ALL`] order.
    traits: [&'static str; 12],
    openings: [&'static str; 2],
    traits_sentence: &'static str,
    appearance: &'static str,
    ability: &'static str,
    no_ability: &'static str,
    middle: &'static str,
    /// Long stories: setting out, between the occasion and the special ability.
    journey: &'static str,
    /// Long stories: the way home, before good night.
    reflection: &'static str,
    custom_title: &'static str,
    custom_scene: &'static str,
    custom_seed: &'static str,
    endings: [&'static str; 2],
    /// (title, scene) per [`EventType::ALL`].
    events: [(&'static str, &'static str); 14],
}

const EN: Lang = Lang {
    and: "and",
    traits: [
        "courage", "kindness", "curiosity", "sense of humour", "cleverness", "creativity",
        "love of adventure", "gentleness", "loyalty", "honesty", "patience", "cheerfulness",
    ],
    openings: [
        "Once upon a time, in a cosy house at the edge of a quiet town, there lived {a} {age}-year-old hero named {name}.",
        "Not so long ago, and not so far away, there was {a} {age}-year-old hero called {name}.",
    ],
    traits_sentence: "Everyone who knew {name} admired their {traits}.",
    appearance: "You could spot {name} from far away: {appearance}.",
    ability: "And {name} had a special gift that very few people knew about: {ability}.",
    no_ability: "{name} had no magic powers at all, only a big warm heart, and that turned out to be more than enough.",
    middle: "In the end, it was {name}'s {trait} that helped the most. Step by step, with a deep breath and a brave little smile, {name} found the way, and everything turned out better than anyone had hoped.",
    journey: "First, {name} packed a small bag with everything a hero might need: a torch, a snack, and a notebook for important thoughts. The path was longer than it looked, and more than once {name} stopped to listen to the wind, to watch a beetle cross the road, or to help someone who had lost their way.",
    reflection: "On the way home, the sky turned pink and then deep blue. {name} thought about the whole day, about the moments that had felt too big and the friends who had made them smaller, and decided that being brave did not mean never being scared. It meant going on anyway, one small step at a time.",
    custom_title: "{name} and {event}",
    custom_scene: "That day was a very special one: {event}.",
    custom_seed: "{name} could not stop thinking about {seed}.",
    endings: [
        "When the stars came out, {name} snuggled under a warm blanket, smiling about everything that had happened. Tomorrow would bring new adventures, but now it was time to dream. Good night, {name}.",
        "That night the moon peeked through the window and found {name} already fast asleep, with a happy heart and a head full of wonderful dreams. The end.",
    ],
    events: [
        ("the Sleepy Stars", "One evening, as the moon climbed over the rooftops, it was almost time for bed, but {name} was not sleepy at all. The stars seemed to whisper that there was one more little adventure to be had before dreamland."),
        ("the Birthday Surprise", "It was {name}'s birthday, and the whole house smelled of cake and candles. But when the presents were opened, a mysterious card was left over, with a map drawn on the back."),
        ("the First Day of School", "It was the first day at a new school, and {name}'s backpack felt heavier than ever. The corridors were long, the faces were new, and the bell rang louder than a dragon's roar."),
        ("the Holiday Lights", "The holidays had come, and every window in town glowed with lights. Then, on the coldest night of the year, all the lights on the big tree in the square went out at once."),
        ("the Great Adventure", "One morning, {name} found a tiny door at the bottom of the garden that had never been there before. Behind it, a winding path led into a forest full of singing trees."),
        ("the New Friend", "At the park, {name} noticed someone sitting alone on a bench, looking at the swings. Making a new friend can feel like climbing a mountain, but every friendship starts with one hello."),
        ("the Little Baby", "A new baby was coming home, and suddenly everyone was busy with tiny socks and soft blankets. {name} wondered what it would be like to be a big brother or sister."),
        ("the Wobbly Tooth", "{name}'s tooth had been wobbling for days, and this morning it finally came out. Everyone knew the Tooth Fairy would come tonight, but what if she lost her way?"),
        ("the Brave Doctor Visit", "Today {name} had to visit the doctor, and the waiting room felt very big and very quiet. The doctor had a stethoscope as shiny as a silver moon."),
        ("the New Home", "Boxes were everywhere: the family was moving to a new home. {name} walked through the empty rooms, listening to the echo, and wondered if this new place could ever feel like home."),
        ("the Shadow in the Closet", "Every night, a strange shadow seemed to move in the closet of {name}'s room. Tonight, {name} decided it was time to find out what it really was."),
        ("the Sharing Tree", "There was only one red kite, and everyone wanted to fly it. {name} held the string tightly and felt the wind pulling, and the others watching."),
        ("the Rainy Day", "Rain drummed on the windows all day long, and the garden turned into a lake of puddles. It seemed like the perfect day to be bored, until {name} had an idea."),
        ("the Midnight Sleepover", "It was {name}'s very first sleepover, with sleeping bags, torches and a tent made of blankets. When the lights went out, a funny noise came from the kitchen."),
    ],
};

const ES: Lang = Lang {
    and: "y",
    traits: [
        "la valentía", "la bondad", "la curiosidad", "el sentido del humor", "la inteligencia",
        "la creatividad", "el espíritu aventurero", "la dulzura", "la lealtad", "la honestidad",
        "la paciencia", "la alegría",
    ],
    openings: [
        "Había una vez, en una casa acogedora al borde de un pueblo tranquilo, alguien muy especial llamado {name}, que tenía {age} años.",
        "No hace mucho tiempo, y no muy lejos de aquí, vivía una personita valiente llamada {name}, de {age} años.",
    ],
    traits_sentence: "Todos los que conocían a {name} admiraban {traits}.",
    appearance: "Era fácil reconocer a {name} desde lejos: {appearance}.",
    ability: "Y {name} tenía un don especial que muy pocos conocían: {ability}.",
    no_ability: "{name} no tenía poderes mágicos, solo un corazón enorme, y eso resultó ser más que suficiente.",
    middle: "Al final, lo que más ayudó fue {trait} de {name}. Paso a paso, con una respiración profunda y una pequeña sonrisa, {name} encontró el camino, y todo salió mejor de lo que nadie esperaba.",
    journey: "Primero, {name} preparó una pequeña mochila con todo lo que un héroe podría necesitar: una linterna, algo de merienda y un cuaderno para los pensamientos importantes. El camino era más largo de lo que parecía, y más de una vez {name} se detuvo a escuchar el viento, a mirar un escarabajo cruzar el sendero o a ayudar a alguien que se había perdido.",
    reflection: "De vuelta a casa, el cielo se volvió rosa y luego azul profundo. {name} pensó en todo el día, en los momentos que habían parecido demasiado grandes y en los amigos que los habían hecho más pequeños, y decidió que ser valiente no significaba no tener nunca miedo. Significaba seguir adelante, paso a paso.",
    custom_title: "{name} y {event}",
    custom_scene: "Aquel era un día muy especial: {event}.",
    custom_seed: "{name} no podía dejar de pensar en {seed}.",
    endings: [
        "Cuando salieron las estrellas, {name} se acurrucó bajo una manta calentita, sonriendo por todo lo que había pasado. Mañana llegarían nuevas aventuras, pero ahora era hora de soñar. Buenas noches, {name}.",
        "Esa noche la luna se asomó por la ventana y encontró a {name} profundamente dormido, con el corazón feliz y la cabeza llena de sueños maravillosos. Fin.",
    ],
    events: [
        ("las estrellas dormilonas", "Una noche, mientras la luna subía por los tejados, ya casi era hora de dormir, pero {name} no tenía nada de sueño. Las estrellas parecían susurrar que quedaba una pequeña aventura antes del país de los sueños."),
        ("la sorpresa de cumpleaños", "Era el cumpleaños de {name} y toda la casa olía a pastel y a velas. Pero al abrir los regalos, quedó una tarjeta misteriosa con un mapa dibujado en el reverso."),
        ("el primer día de colegio", "Era el primer día en un colegio nuevo y la mochila de {name} parecía más pesada que nunca. Los pasillos eran largos, las caras eran nuevas y el timbre sonaba más fuerte que el rugido de un dragón."),
        ("las luces de las fiestas", "Habían llegado las fiestas y cada ventana del pueblo brillaba con luces. Entonces, en la noche más fría del año, todas las luces del gran árbol de la plaza se apagaron a la vez."),
        ("la gran aventura", "Una mañana, {name} encontró una puerta diminuta al fondo del jardín que nunca había estado allí. Detrás, un camino serpenteante llevaba a un bosque lleno de árboles que cantaban."),
        ("el nuevo amigo", "En el parque, {name} vio a alguien sentado solo en un banco, mirando los columpios. Hacer un amigo nuevo puede parecer como escalar una montaña, pero toda amistad empieza con un hola."),
        ("el bebé que llegó a casa", "Un bebé nuevo llegaba a casa y de repente todos estaban ocupados con calcetines diminutos y mantas suaves. {name} se preguntaba cómo sería ser el hermano mayor o la hermana mayor."),
        ("el diente que se movía", "El diente de {name} se movía desde hacía días y esta mañana por fin se cayó. Todos sabían que el Ratoncito Pérez vendría esa noche, pero ¿y si se perdía por el camino?"),
        ("la visita al médico", "Hoy {name} tenía que ir al médico, y la sala de espera parecía muy grande y muy silenciosa. La doctora tenía un estetoscopio tan brillante como una luna de plata."),
        ("la casa nueva", "Había cajas por todas partes: la familia se mudaba a una casa nueva. {name} recorrió las habitaciones vacías, escuchando el eco, y se preguntó si aquel lugar llegaría a sentirse como un hogar."),
        ("la sombra del armario", "Cada noche, una sombra extraña parecía moverse en el armario de la habitación de {name}. Esta noche, {name} decidió que era hora de descubrir qué era de verdad."),
        ("la cometa roja", "Solo había una cometa roja y todos querían volarla. {name} sujetaba la cuerda con fuerza y sentía el viento tirar, y a los demás mirando."),
        ("el día de lluvia", "La lluvia tamborileó en las ventanas todo el día y el jardín se convirtió en un lago de charcos. Parecía el día perfecto para aburrirse, hasta que a {name} se le ocurrió una idea."),
        ("la noche de pijamas", "Era la primera fiesta de pijamas de {name}, con sacos de dormir, linternas y una tienda hecha de mantas. Cuando se apagaron las luces, un ruido curioso llegó desde la cocina."),
    ],
};

const FR: Lang = Lang {
    and: "et",
    traits: [
        "le courage", "la gentillesse", "la curiosité", "l'humour", "l'intelligence",
        "la créativité", "le goût de l'aventure", "la douceur", "la loyauté", "l'honnêteté",
        "la patience", "la bonne humeur",
    ],
    openings: [
        "Il était une fois, dans une maison douillette au bord d'une petite ville tranquille, un enfant très spécial qui s'appelait {name} et qui avait {age} ans.",
        "Il n'y a pas si longtemps, et pas très loin d'ici, vivait {name}, un petit héros de {age} ans.",
    ],
    traits_sentence: "Tout le monde admirait chez {name} {traits}.",
    appearance: "On reconnaissait {name} de loin : {appearance}.",
    ability: "Et {name} avait un don secret que très peu de gens connaissaient : {ability}.",
    no_ability: "{name} n'avait aucun pouvoir magique, seulement un grand cœur, et cela s'est révélé bien suffisant.",
    middle: "Finalement, c'est {trait} de {name} qui a le plus aidé. Pas à pas, avec une grande inspiration et un petit sourire courageux, {name} a trouvé le chemin, et tout s'est mieux passé que prévu.",
    journey: "D'abord, {name} prépara un petit sac avec tout ce dont un héros pourrait avoir besoin : une lampe de poche, un goûter et un carnet pour les pensées importantes. Le chemin était plus long qu'il n'y paraissait, et plus d'une fois {name} s'arrêta pour écouter le vent, regarder un scarabée traverser le sentier ou aider quelqu'un qui s'était perdu.",
    reflection: "Sur le chemin du retour, le ciel devint rose, puis bleu profond. {name} repensa à toute la journée, aux moments qui avaient semblé trop grands et aux amis qui les avaient rendus plus petits, et se dit qu'être courageux, ce n'était pas ne jamais avoir peur. C'était continuer quand même, un petit pas après l'autre.",
    custom_title: "{name} et {event}",
    custom_scene: "Ce jour-là était un jour très spécial : {event}.",
    custom_seed: "{name} ne pouvait pas s'empêcher de penser à {seed}.",
    endings: [
        "Quand les étoiles se sont allumées, {name} s'est blotti sous une couverture bien chaude, en souriant à tout ce qui s'était passé. Demain apporterait de nouvelles aventures, mais maintenant, il était temps de rêver. Bonne nuit, {name}.",
        "Cette nuit-là, la lune a jeté un œil par la fenêtre et a trouvé {name} déjà endormi, le cœur heureux et la tête pleine de rêves merveilleux. Fin.",
    ],
    events: [
        ("les étoiles endormies", "Un soir, alors que la lune grimpait au-dessus des toits, c'était presque l'heure d'aller au lit, mais {name} n'avait pas du tout sommeil. Les étoiles semblaient murmurer qu'il restait une petite aventure avant le pays des rêves."),
        ("la surprise d'anniversaire", "C'était l'anniversaire de {name}, et toute la maison sentait le gâteau et les bougies. Mais quand les cadeaux furent ouverts, il resta une carte mystérieuse avec une carte au trésor dessinée au dos."),
        ("le premier jour d'école", "C'était le premier jour dans une nouvelle école, et le cartable de {name} semblait plus lourd que jamais. Les couloirs étaient longs, les visages nouveaux, et la sonnerie plus forte que le rugissement d'un dragon."),
        ("les lumières des fêtes", "Les fêtes étaient arrivées, et chaque fenêtre de la ville brillait de lumières. Puis, pendant la nuit la plus froide de l'année, toutes les lumières du grand sapin de la place se sont éteintes d'un coup."),
        ("la grande aventure", "Un matin, {name} a trouvé au fond du jardin une minuscule porte qui n'avait jamais été là. Derrière, un sentier sinueux menait à une forêt pleine d'arbres qui chantaient."),
        ("le nouvel ami", "Au parc, {name} a remarqué quelqu'un assis tout seul sur un banc, qui regardait les balançoires. Se faire un nouvel ami, c'est parfois comme escalader une montagne, mais chaque amitié commence par un bonjour."),
        ("le petit bébé", "Un nouveau bébé allait arriver à la maison, et soudain tout le monde s'affairait avec de minuscules chaussettes et des couvertures toutes douces. {name} se demandait comment ce serait d'être le grand de la famille."),
        ("la dent qui bouge", "La dent de {name} bougeait depuis des jours, et ce matin elle est enfin tombée. Tout le monde savait que la petite souris viendrait cette nuit, mais si elle se perdait en chemin ?"),
        ("la visite chez le médecin", "Aujourd'hui, {name} devait aller chez le médecin, et la salle d'attente semblait très grande et très silencieuse. Le docteur avait un stéthoscope aussi brillant qu'une lune d'argent."),
        ("la nouvelle maison", "Il y avait des cartons partout : la famille déménageait dans une nouvelle maison. {name} a traversé les pièces vides en écoutant l'écho, et s'est demandé si cet endroit deviendrait un jour un vrai chez-soi."),
        ("l'ombre dans le placard", "Chaque nuit, une ombre étrange semblait bouger dans le placard de la chambre de {name}. Ce soir, {name} a décidé qu'il était temps de découvrir ce que c'était vraiment."),
        ("le cerf-volant rouge", "Il n'y avait qu'un seul cerf-volant rouge, et tout le monde voulait le faire voler. {name} tenait la ficelle très fort et sentait le vent tirer, et les autres regarder."),
        ("le jour de pluie", "La pluie a tambouriné sur les fenêtres toute la journée, et le jardin est devenu un lac de flaques. Cela semblait le jour parfait pour s'ennuyer, jusqu'à ce que {name} ait une idée."),
        ("la soirée pyjama", "C'était la toute première soirée pyjama de {name}, avec des sacs de couchage, des lampes de poche et une tente faite de couvertures. Quand les lumières se sont éteintes, un drôle de bruit est venu de la cuisine."),
    ],
};

const DE: Lang = Lang {
    and: "und",
    traits: [
        "den Mut", "die Freundlichkeit", "die Neugier", "den Humor", "die Klugheit",
        "die Kreativität", "die Abenteuerlust", "die Sanftheit", "die Treue", "die Ehrlichkeit",
        "die Geduld", "die Fröhlichkeit",
    ],
    openings: [
        "Es war einmal, in einem gemütlichen Haus am Rand einer ruhigen kleinen Stadt, ein ganz besonderes Kind namens {name}, das {age} Jahre alt war.",
        "Vor nicht allzu langer Zeit, und gar nicht weit von hier, lebte ein kleiner Held namens {name}, {age} Jahre alt.",
    ],
    traits_sentence: "Alle, die {name} kannten, bewunderten an {name} {traits}.",
    appearance: "Man erkannte {name} schon von Weitem: {appearance}.",
    ability: "Und {name} hatte eine besondere Gabe, von der nur wenige wussten: {ability}.",
    no_ability: "{name} hatte keine Zauberkräfte, nur ein großes, warmes Herz, und das war mehr als genug.",
    middle: "An diesem Tag zeigte {name} wieder einmal {trait}, und genau das half am meisten. Schritt für Schritt, mit einem tiefen Atemzug und einem mutigen kleinen Lächeln, fand {name} den Weg, und alles ging besser aus, als irgendwer gehofft hatte.",
    journey: "Zuerst packte {name} eine kleine Tasche mit allem, was ein Held brauchen könnte: eine Taschenlampe, einen Snack und ein Notizbuch für wichtige Gedanken. Der Weg war länger, als er aussah, und mehr als einmal blieb {name} stehen, um dem Wind zu lauschen, einem Käfer beim Überqueren des Weges zuzusehen oder jemandem zu helfen, der sich verlaufen hatte.",
    reflection: "Auf dem Heimweg färbte sich der Himmel erst rosa und dann tiefblau. {name} dachte an den ganzen Tag, an die Momente, die zu groß gewirkt hatten, und an die Freunde, die sie kleiner gemacht hatten, und beschloss, dass mutig sein nicht heißt, nie Angst zu haben. Es heißt, trotzdem weiterzugehen, einen kleinen Schritt nach dem anderen.",
    custom_title: "{name} und {event}",
    custom_scene: "Dieser Tag war ein ganz besonderer: {event}.",
    custom_seed: "{name} musste die ganze Zeit an {seed} denken.",
    endings: [
        "Als die Sterne aufgingen, kuschelte sich {name} unter eine warme Decke und lächelte über alles, was passiert war. Morgen würden neue Abenteuer kommen, aber jetzt war es Zeit zu träumen. Gute Nacht, {name}.",
        "In dieser Nacht schaute der Mond durchs Fenster und fand {name} schon tief schlafend, mit einem glücklichen Herzen und einem Kopf voller wunderbarer Träume. Ende.",
    ],
    events: [
        ("die schläfrigen Sterne", "Eines Abends, als der Mond über die Dächer kletterte, war es fast Schlafenszeit, aber {name} war überhaupt nicht müde. Die Sterne schienen zu flüstern, dass vor dem Traumland noch ein kleines Abenteuer wartete."),
        ("die Geburtstagsüberraschung", "Es war der Geburtstag von {name}, und das ganze Haus duftete nach Kuchen und Kerzen. Doch als alle Geschenke ausgepackt waren, blieb eine geheimnisvolle Karte übrig, mit einer Schatzkarte auf der Rückseite."),
        ("der erste Schultag", "Es war der erste Tag an einer neuen Schule, und der Ranzen von {name} fühlte sich schwerer an als je zuvor. Die Flure waren lang, die Gesichter neu, und die Glocke klang lauter als das Brüllen eines Drachen."),
        ("die Lichter der Festtage", "Die Festtage waren da, und jedes Fenster der Stadt leuchtete. Doch in der kältesten Nacht des Jahres gingen plötzlich alle Lichter am großen Baum auf dem Marktplatz aus."),
        ("das große Abenteuer", "Eines Morgens fand {name} hinten im Garten eine winzige Tür, die vorher nie da gewesen war. Dahinter führte ein verschlungener Pfad in einen Wald voller singender Bäume."),
        ("der neue Freund", "Im Park sah {name} jemanden ganz allein auf einer Bank sitzen und zu den Schaukeln schauen. Einen neuen Freund zu finden kann sich anfühlen wie eine Bergbesteigung, aber jede Freundschaft beginnt mit einem Hallo."),
        ("das kleine Geschwisterchen", "Ein neues Baby kam nach Hause, und plötzlich waren alle mit winzigen Söckchen und weichen Decken beschäftigt. {name} fragte sich, wie es wohl sein würde, großes Geschwisterkind zu sein."),
        ("der wackelige Zahn", "Der Zahn von {name} hatte tagelang gewackelt, und heute Morgen fiel er endlich heraus. Alle wussten, dass heute Nacht die Zahnfee kommen würde, aber was, wenn sie sich verirrte?"),
        ("der Besuch beim Arzt", "Heute musste {name} zum Arzt, und das Wartezimmer war sehr groß und sehr still. Die Ärztin hatte ein Stethoskop, das glänzte wie ein silberner Mond."),
        ("das neue Zuhause", "Überall standen Kisten: Die Familie zog in ein neues Zuhause. {name} ging durch die leeren Zimmer, lauschte dem Echo und fragte sich, ob sich dieser Ort jemals wie Zuhause anfühlen würde."),
        ("der Schatten im Schrank", "Jede Nacht schien sich im Schrank im Zimmer von {name} ein seltsamer Schatten zu bewegen. Heute Nacht beschloss {name}, herauszufinden, was es wirklich war."),
        ("der rote Drachen", "Es gab nur einen roten Drachen, und alle wollten ihn steigen lassen. {name} hielt die Schnur ganz fest, spürte den Wind ziehen und die anderen zuschauen."),
        ("der Regentag", "Den ganzen Tag trommelte der Regen an die Fenster, und der Garten wurde zu einem See aus Pfützen. Es schien der perfekte Tag zum Langweilen zu sein, bis {name} eine Idee hatte."),
        ("die Übernachtungsparty", "Es war die allererste Übernachtungsparty von {name}, mit Schlafsäcken, Taschenlampen und einem Zelt aus Decken. Als das Licht ausging, kam ein komisches Geräusch aus der Küche."),
    ],
};

const IT: Lang = Lang {
    and: "e",
    traits: [
        "il coraggio", "la gentilezza", "la curiosità", "l'umorismo", "l'intelligenza",
        "la creatività", "lo spirito d'avventura", "la dolcezza", "la lealtà", "l'onestà",
        "la pazienza", "l'allegria",
    ],
    openings: [
        "C'era una volta, in una casa accogliente ai margini di una piccola città tranquilla, una persona davvero speciale di nome {name}, che aveva {age} anni.",
        "Non molto tempo fa, e non troppo lontano da qui, viveva un piccolo eroe di nome {name}, di {age} anni.",
    ],
    traits_sentence: "Tutti quelli che conoscevano {name} ammiravano {traits}.",
    appearance: "Si riconosceva {name} da lontano: {appearance}.",
    ability: "E {name} aveva un dono speciale che pochissimi conoscevano: {ability}.",
    no_ability: "{name} non aveva poteri magici, solo un grande cuore, e questo si rivelò più che sufficiente.",
    middle: "Alla fine, fu {trait} di {name} ad aiutare più di tutto. Passo dopo passo, con un bel respiro e un piccolo sorriso coraggioso, {name} trovò la strada, e tutto andò meglio di quanto chiunque sperasse.",
    journey: "Per prima cosa, {name} preparò uno zainetto con tutto ciò che poteva servire a un eroe: una torcia, una merenda e un quaderno per i pensieri importanti. La strada era più lunga di quanto sembrasse, e più di una volta {name} si fermò ad ascoltare il vento, a guardare un coleottero attraversare il sentiero o ad aiutare qualcuno che si era perso.",
    reflection: "Sulla via del ritorno, il cielo diventò rosa e poi blu intenso. {name} ripensò a tutta la giornata, ai momenti che erano sembrati troppo grandi e agli amici che li avevano resi più piccoli, e decise che essere coraggiosi non vuol dire non avere mai paura. Vuol dire andare avanti lo stesso, un piccolo passo alla volta.",
    custom_title: "{name} e {event}",
    custom_scene: "Quel giorno era davvero speciale: {event}.",
    custom_seed: "{name} non riusciva a smettere di pensare a {seed}.",
    endings: [
        "Quando spuntarono le stelle, {name} si accoccolò sotto una coperta calda, sorridendo per tutto quello che era successo. Domani sarebbero arrivate nuove avventure, ma ora era il momento di sognare. Buonanotte, {name}.",
        "Quella notte la luna sbirciò dalla finestra e trovò {name} già addormentato, con il cuore felice e la testa piena di sogni meravigliosi. Fine.",
    ],
    events: [
        ("le stelle assonnate", "Una sera, mentre la luna saliva sopra i tetti, era quasi ora di andare a letto, ma {name} non aveva per niente sonno. Le stelle sembravano sussurrare che mancava ancora una piccola avventura prima del paese dei sogni."),
        ("la sorpresa di compleanno", "Era il compleanno di {name}, e tutta la casa profumava di torta e candeline. Ma quando i regali furono aperti, rimase un biglietto misterioso con una mappa disegnata sul retro."),
        ("il primo giorno di scuola", "Era il primo giorno in una scuola nuova, e lo zaino di {name} sembrava più pesante che mai. I corridoi erano lunghi, i volti nuovi, e la campanella suonava più forte del ruggito di un drago."),
        ("le luci delle feste", "Erano arrivate le feste, e ogni finestra della città brillava di luci. Poi, nella notte più fredda dell'anno, tutte le luci del grande albero in piazza si spensero insieme."),
        ("la grande avventura", "Una mattina, {name} trovò in fondo al giardino una porticina minuscola che prima non c'era mai stata. Dietro, un sentiero tortuoso portava in un bosco pieno di alberi che cantavano."),
        ("il nuovo amico", "Al parco, {name} notò qualcuno seduto da solo su una panchina, che guardava le altalene. Farsi un nuovo amico può sembrare come scalare una montagna, ma ogni amicizia comincia con un ciao."),
        ("il nuovo fratellino", "Un nuovo bebè stava arrivando a casa, e all'improvviso tutti erano indaffarati con calzini minuscoli e coperte morbide. {name} si chiedeva come sarebbe stato essere il più grande."),
        ("il dentino che dondola", "Il dentino di {name} dondolava da giorni, e stamattina finalmente è caduto. Tutti sapevano che quella notte sarebbe arrivata la Fatina dei denti, ma se si fosse persa per strada?"),
        ("la visita dal dottore", "Oggi {name} doveva andare dal dottore, e la sala d'attesa sembrava molto grande e molto silenziosa. La dottoressa aveva uno stetoscopio lucente come una luna d'argento."),
        ("la casa nuova", "C'erano scatoloni dappertutto: la famiglia si trasferiva in una casa nuova. {name} attraversò le stanze vuote ascoltando l'eco, e si chiese se quel posto sarebbe mai diventato casa."),
        ("l'ombra nell'armadio", "Ogni notte, una strana ombra sembrava muoversi nell'armadio della cameretta di {name}. Stanotte {name} decise che era ora di scoprire che cosa fosse davvero."),
        ("l'aquilone rosso", "C'era un solo aquilone rosso, e tutti volevano farlo volare. {name} stringeva forte il filo e sentiva il vento tirare, e gli altri guardare."),
        ("il giorno di pioggia", "La pioggia tamburellò sulle finestre tutto il giorno, e il giardino diventò un lago di pozzanghere. Sembrava il giorno perfetto per annoiarsi, finché a {name} non venne un'idea."),
        ("il pigiama party", "Era il primissimo pigiama party di {name}, con sacchi a pelo, torce e una tenda fatta di coperte. Quando le luci si spensero, un rumore buffo arrivò dalla cucina."),
    ],
};

fn lang(l: Language) -> &'static Lang {
    match l {
        Language::En => &EN,
        Language::Es => &ES,
        Language::Fr => &FR,
        Language::De => &DE,
        Language::It => &IT,
    }
}

fn trait_noun(l: &Lang, t: HeroTrait) -> &'static str {
    let i = HeroTrait::ALL
        .iter()
        .position(|x| *x == t)
        .expect("every trait is in ALL");
    l.traits[i]
}

fn event_index(e: EventType) -> usize {
    EventType::ALL
        .iter()
        .position(|x| *x == e)
        .expect("every event is in ALL")
}

/// "a", "a and b", "a, b and c".
fn join_list(items: &[&str], and: &str) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} {and} {last}", init.join(", ")),
    }
}

/// Lower-cases the first letter, so free text fits mid-sentence ("Red boots" → "red
/// boots"), unless the second letter is upper case too (an acronym).
fn mid_sentence(s: &str) -> String {
    let s = s.trim().trim_end_matches(['.', '!', '?']);
    let mut chars = s.chars();
    match (chars.next(), chars.clone().next()) {
        (Some(first), second) if !second.is_some_and(char::is_uppercase) => {
            first.to_lowercase().collect::<String>() + chars.as_str()
        }
        _ => s.to_owned(),
    }
}

fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

/// What a story is about.
pub enum Occasion<'a> {
    Event(EventType),
    Custom(&'a CustomEventRecord),
}

/// The title and text of a story about `hero` and `occasion` in `language`.
pub fn compose(
    hero: &HeroRecord,
    occasion: &Occasion<'_>,
    language: Language,
    length: StoryLength,
) -> (String, String) {
    let l = lang(language);
    let occasion_key = match occasion {
        Occasion::Event(e) => e.as_str().to_owned(),
        Occasion::Custom(c) => format!("custom:{}:{}", c.title, c.description),
    };
    let seed = seed_of(&[
        &hero.name,
        &hero.special_ability,
        &occasion_key,
        language.as_str(),
    ]);
    let name = hero.name.as_str();
    let age = hero.age.to_string();
    let traits: Vec<&str> = hero.traits.iter().map(|t| trait_noun(l, *t)).collect();
    let first_trait = traits.first().copied().unwrap_or(l.traits[1]);
    // English: "an 8-year-old", "an 11-year-old", "an 18-year-old".
    let article = if matches!(hero.age, 8 | 11 | 18) {
        "an"
    } else {
        "a"
    };
    let vars: Vec<(&str, &str)> = vec![("name", name), ("age", &age), ("a", article)];

    // 1. Who the hero is.
    let opening = fill(l.openings[(seed % 2) as usize], &vars);
    let mut p1 = opening.clone();
    p1.push(' ');
    p1.push_str(&fill(
        l.traits_sentence,
        &[("name", name), ("traits", &join_list(&traits, l.and))],
    ));
    if !hero.appearance.trim().is_empty() {
        p1.push(' ');
        p1.push_str(&fill(
            l.appearance,
            &[
                ("name", name),
                ("appearance", &mid_sentence(&hero.appearance)),
            ],
        ));
    }

    // 2. The occasion.
    let (title, p2) = match occasion {
        Occasion::Event(e) => {
            let (t, scene) = l.events[event_index(*e)];
            let title = match language {
                Language::En => format!("{name} and {t}"),
                _ => fill(l.custom_title, &[("name", name), ("event", t)]),
            };
            (title, fill(scene, &vars))
        }
        Occasion::Custom(c) => {
            let title = fill(l.custom_title, &[("name", name), ("event", &c.title)]);
            let mut p = fill(l.custom_scene, &[("event", &c.title)]);
            if !c.description.trim().is_empty() {
                p.push(' ');
                let d = c.description.trim();
                p.push_str(d);
                if !d.ends_with(['.', '!', '?']) {
                    p.push('.');
                }
            }
            let seed_text = if !c.prompt_seed.trim().is_empty() {
                Some(mid_sentence(&c.prompt_seed))
            } else if !c.keywords.is_empty() {
                Some(join_list(
                    &c.keywords.iter().map(String::as_str).collect::<Vec<_>>(),
                    l.and,
                ))
            } else {
                None
            };
            if let Some(s) = seed_text {
                p.push(' ');
                p.push_str(&fill(l.custom_seed, &[("name", name), ("seed", &s)]));
            }
            (title, p)
        }
    };

    // 3. The special ability and how the hero's traits save the day.
    let mut p3 = if hero.special_ability.trim().is_empty() {
        fill(l.no_ability, &vars)
    } else {
        fill(
            l.ability,
            &[
                ("name", name),
                ("ability", &mid_sentence(&hero.special_ability)),
            ],
        )
    };
    p3.push(' ');
    p3.push_str(&fill(l.middle, &[("name", name), ("trait", first_trait)]));

    // 4. Good night.
    let p4 = fill(l.endings[((seed >> 8) % 2) as usize], &vars);

    let paragraphs = match length {
        // Who, the occasion, how it ended and good night.
        StoryLength::Short => vec![
            opening,
            p2,
            format!(
                "{} {p4}",
                fill(l.middle, &[("name", name), ("trait", first_trait)])
            ),
        ],
        StoryLength::Medium => vec![p1, p2, p3, p4],
        StoryLength::Long => vec![
            p1,
            p2,
            fill(l.journey, &vars),
            p3,
            fill(l.reflection, &vars),
            p4,
        ],
    };
    let title = truncate_chars(&title, TITLE_MAX_STORY);
    (title, paragraphs.join("\n\n"))
}

/// `POST /api/stories/generate` ([`GenerateStoryRequest`]) → 201 with the new story
/// (version 1, in the change feed like any write). Counts one story toward the monthly
/// limit: over it, 403 `limit_reached`. With a client `id` that already names the
/// user's story, answers 200 with it (a retried request makes nothing new).
pub async fn generate(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(req): Json<GenerateStoryRequest>,
) -> Result<Response, ApiError> {
    req.validate().map_err(ApiError::Validation)?;
    let user = auth.id();
    let now = state.now();
    let limits = state.config().tier_limits.clone();
    enum Done {
        Made(CreateOutcome<StoryRecord>),
        Existing(StoryRecord),
    }
    let done = state
        .run(move |conn| {
            let tx = conn.transaction()?;
            let id = req.id.unwrap_or_else(Uuid::now_v7);
            if req.id.is_some() {
                if let Some(existing) = table::get::<Story>(&tx, user, id)? {
                    return Ok(Done::Existing(existing));
                }
            }
            let mut errors = Vec::new();
            let hero = table::get::<Hero>(&tx, user, req.hero_id)?.filter(|h| !h.deleted);
            if hero.is_none() {
                errors.push(FieldError::new("hero_id", "No such hero"));
            }
            let custom = match req.custom_event_id {
                Some(cid) => {
                    let e = table::get::<CustomEvent>(&tx, user, cid)?.filter(|e| !e.deleted);
                    if e.is_none() {
                        errors.push(FieldError::new("custom_event_id", "No such custom event"));
                    }
                    e
                }
                None => None,
            };
            let Some(hero) = hero.filter(|_| errors.is_empty()) else {
                return Err(ApiError::Validation(errors));
            };
            // Counted in this transaction, which commits only with the new story.
            usage::reserve(&tx, user, UsageKind::Story, 1.0, &limits, now)?;
            let occasion = match (&custom, req.event_type) {
                (Some(c), _) => Occasion::Custom(c),
                (None, Some(e)) => Occasion::Event(e),
                (None, None) => unreachable!("validated: one of the two is set"),
            };
            let (title, content) = compose(
                &hero,
                &occasion,
                req.language,
                req.length.unwrap_or_default(),
            );
            let input = StoryInput {
                hero_id: Some(hero.id),
                title,
                content,
                language: req.language,
                event_type: req.event_type,
                custom_event_id: req.custom_event_id,
                is_favorite: false,
                ..Default::default()
            };
            let outcome = table::create::<Story>(&tx, user, id, input, now)?;
            if let CreateOutcome::Created(_) = &outcome {
                if let Some(c) = &custom {
                    let counters = [("usage_count".to_owned(), 1)].into_iter().collect();
                    table::increment::<CustomEvent>(&tx, user, c.id, &counters, now)?;
                }
                tx.commit()?;
            }
            Ok(Done::Made(outcome))
        })
        .await?;
    match done {
        Done::Existing(s) if !s.deleted => Ok(with_etag(StatusCode::OK, s.version, &s)),
        Done::Existing(s) => Err(ApiError::Conflict {
            message: "This story was deleted".to_owned(),
            current: Some(serde_json::to_value(&s)?),
        }),
        Done::Made(o) => respond_create::<Story>(o, Story::COLLECTION),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use is_protocol::Input as _;

    fn hero() -> HeroRecord {
        HeroRecord {
            id: Uuid::nil(),
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            deleted: false,
            name: "Luna".into(),
            age: 6,
            traits: vec![HeroTrait::Brave, HeroTrait::Curious],
            appearance: "Red boots and a yellow raincoat".into(),
            special_ability: "Talks to owls".into(),
            avatar_url: None,
            avatar_generation_id: None,
            ..Default::default()
        }
    }

    #[test]
    fn every_language_and_event_makes_a_valid_story() {
        for language in Language::ALL {
            for event in EventType::ALL {
                let (title, content) = compose(
                    &hero(),
                    &Occasion::Event(event),
                    language,
                    StoryLength::Medium,
                );
                assert!(title.contains("Luna"), "{language:?} {event:?}: {title}");
                assert!(content.contains("Luna"));
                assert!(content.matches("\n\n").count() >= 3, "several paragraphs");
                assert!(!content.contains('{'), "unfilled placeholder: {content}");
                assert!(!title.contains('{'));
                let input = StoryInput {
                    hero_id: None,
                    title,
                    content,
                    language,
                    event_type: Some(event),
                    custom_event_id: None,
                    is_favorite: false,
                    ..Default::default()
                };
                assert_eq!(input.validate(), Ok(()));
            }
        }
    }

    #[test]
    fn deterministic_and_uses_the_hero() {
        let a = compose(
            &hero(),
            &Occasion::Event(EventType::Birthday),
            Language::En,
            StoryLength::Medium,
        );
        let b = compose(
            &hero(),
            &Occasion::Event(EventType::Birthday),
            Language::En,
            StoryLength::Medium,
        );
        assert_eq!(a, b);
        assert!(a.1.contains("talks to owls"), "{}", a.1);
        assert!(a.1.contains("courage and curiosity"), "{}", a.1);
        assert!(a.1.contains("red boots"));
        let fr = compose(
            &hero(),
            &Occasion::Event(EventType::Birthday),
            Language::Fr,
            StoryLength::Medium,
        );
        assert!(fr.1.contains("le courage et la curiosité"), "{}", fr.1);
        assert_ne!(a.1, fr.1);
    }

    #[test]
    fn english_articles() {
        let mut h = hero();
        for (age, want) in [
            (8, "an 8-year-old"),
            (11, "an 11-year-old"),
            (6, "a 6-year-old"),
        ] {
            h.age = age;
            let (_, text) = compose(
                &h,
                &Occasion::Event(EventType::Bedtime),
                Language::En,
                StoryLength::Medium,
            );
            assert!(text.contains(want), "{text}");
        }
    }

    #[test]
    fn list_and_case_helpers() {
        assert_eq!(join_list(&["a"], "and"), "a");
        assert_eq!(join_list(&["a", "b", "c"], "y"), "a, b y c");
        assert_eq!(mid_sentence("Talks to owls."), "talks to owls");
        assert_eq!(mid_sentence("NASA rockets"), "NASA rockets");
    }

    #[test]
    fn length_shortens_or_lengthens_the_story_in_every_language() {
        for language in Language::ALL {
            let words = |length| {
                let (_, text) = compose(
                    &hero(),
                    &Occasion::Event(EventType::Bedtime),
                    language,
                    length,
                );
                (
                    text.split("\n\n").count(),
                    text.split_whitespace().count(),
                    text,
                )
            };
            let (short_p, short_w, short) = words(StoryLength::Short);
            let (medium_p, medium_w, _) = words(StoryLength::Medium);
            let (long_p, long_w, long) = words(StoryLength::Long);
            assert_eq!((short_p, medium_p, long_p), (3, 4, 6), "{language:?}");
            assert!(
                short_w < medium_w && medium_w < long_w,
                "{language:?}: {short_w} {medium_w} {long_w}"
            );
            for text in [short, long] {
                assert!(
                    text.contains("Luna") && !text.contains('{'),
                    "{language:?}: {text}"
                );
            }
        }
    }
}
